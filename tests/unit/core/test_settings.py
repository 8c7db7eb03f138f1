"""Settings come from HGW_ environment variables through load_settings(); keyword overrides win."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

import gateway.settings
from gateway.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HGW_ variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("HGW_"):
            monkeypatch.delenv(name)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert (s.host, s.port, s.mode, s.database_url, s.data_key) == ("127.0.0.1", 8000, "production", None, None)
    assert s.effective_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'data' / 'hgw.sqlite3'}"
    assert s.public_base_url == "http://127.0.0.1:8000"


def test_reads_hgw_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HGW_PORT", "9123")
    monkeypatch.setenv("HGW_HOST", "0.0.0.0")  # noqa: S104 - a value under test, nothing binds it
    monkeypatch.setenv("HGW_MODE", "demo")
    monkeypatch.setenv("HGW_RELEASE_MAX", "7")
    monkeypatch.setenv("HGW_DEFAULT_PROVIDER_ODS", "VNFKT")
    monkeypatch.setenv("HGW_BASE_URL", "https://gateway.example.nhs.uk")
    s = load_settings()
    assert s.data_dir == tmp_path
    assert (s.port, s.host, s.mode, s.release_max) == (9123, "0.0.0.0", "demo", 7)  # noqa: S104
    assert s.default_provider_ods == "VNFKT"
    assert s.public_base_url == "https://gateway.example.nhs.uk"


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9999")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    s = load_settings()
    assert s.port == 8000
    assert s.database_url is None


def test_overrides_win_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGW_PORT", "9123")
    monkeypatch.setenv("HGW_DATA_DIR", "/somewhere/else")
    s = load_settings(port=8443, data_dir=tmp_path)
    assert s.port == 8443
    assert s.data_dir == tmp_path


def test_none_overrides_leave_the_environment_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # CLI options that were not given arrive as None
    monkeypatch.setenv("HGW_PORT", "9123")
    assert load_settings(port=None, host=None).port == 9123


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://hgw:secret@db:5432/hgw", "postgresql+psycopg://hgw:secret@db:5432/hgw"),
        ("postgres://hgw@db/hgw", "postgresql+psycopg://hgw@db/hgw"),
        ("sqlite:///var/lib/hgw/hgw.sqlite3", "sqlite+aiosqlite:///var/lib/hgw/hgw.sqlite3"),
        ("postgresql+psycopg://hgw@db/hgw", "postgresql+psycopg://hgw@db/hgw"),
        ("sqlite+aiosqlite:///x.sqlite3", "sqlite+aiosqlite:///x.sqlite3"),
    ],
)
def test_database_url_gets_the_async_driver(url: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(database_url=url).database_url == expected
    assert load_settings(database_url=url).effective_database_url == expected
    monkeypatch.setenv("HGW_DATABASE_URL", url)
    assert load_settings().database_url == expected


def test_default_database_lives_under_data_dir(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path / "store")
    assert s.effective_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'store').resolve() / 'hgw.sqlite3'}"


@pytest.mark.parametrize("port", ["-1", "65536", "70000", "http"])
def test_invalid_port_from_the_environment_is_rejected(port: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGW_PORT", port)
    with pytest.raises(ValidationError, match="port"):
        load_settings()


@pytest.mark.parametrize("port", [-1, 65536])
def test_invalid_port_override_is_rejected(port: int) -> None:
    with pytest.raises(ValidationError, match="port"):
        load_settings(port=port)


@pytest.mark.parametrize(
    ("name", "value"),
    [("HGW_MODE", "staging"), ("HGW_RELEASE_MAX", "0"), ("HGW_LEASE_SECONDS", "86401"), ("HGW_MAX_BODY_BYTES", "10")],
)
def test_other_invalid_values_are_rejected(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        load_settings()


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValidationError):
        s.port = 1  # type: ignore[misc]


def test_importing_the_module_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Executing gateway/settings.py afresh under an invalid environment must not fail or build a Settings."""
    monkeypatch.setenv("HGW_PORT", "not-a-port")
    with pytest.raises(ValidationError):
        load_settings()  # the environment really is invalid

    assert gateway.settings.__file__ is not None
    spec = importlib.util.spec_from_file_location("hgw_settings_fresh_copy", gateway.settings.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)

    assert not [name for name, value in vars(module).items() if isinstance(value, module.Settings | Settings)]
    assert not [name for name, value in vars(gateway.settings).items() if isinstance(value, Settings)]
