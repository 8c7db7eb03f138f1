"""No source file over 400 lines (issue 17): one concept per module, so a module can be read in one sitting.

The Alembic migrations are excluded: each is one generated revision, read on its own.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("gateway", "adapters", "conformance", "fhir_profiles")
MAX_LINES = 400



def source_files() -> list[Path]:
    return sorted(
        path
        for package in SOURCES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def line_count(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def test_the_sources_are_found() -> None:
    files = source_files()
    assert len(files) > 100
    assert ROOT / "gateway" / "cli.py" in files
    assert not any("migrations" in p.parts for p in files)


def test_no_source_file_is_over_400_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in source_files()
        if (lines := line_count(path)) > MAX_LINES
    }
    assert not too_long, "over 400 lines (split by concept): " + ", ".join(
        f"{name} ({lines})" for name, lines in sorted(too_long.items())
    )


def test_line_count_counts_every_line(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("a = 1\n\n# three\nb = 2")
    assert line_count(sample) == 4
