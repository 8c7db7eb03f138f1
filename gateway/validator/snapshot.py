"""Snapshot generation: our profiles' differentials applied to their base snapshots, written back in place.

`python -m gateway.validator.snapshot` regenerates every `snapshot` under `fhir_profiles/StructureDefinition/` and
`fhir_profiles/index.json`; a test checks the checked-in files are in sync. The algorithm, per differential element
in order: find the snapshot element with the same id; when there is none, make room for it (a new slice copies
the sliced element and its subtree; a child of an unexpanded datatype expands that type's elements, or those of
the profile on its type), then merge the differential's properties into it (constraints are appended).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from fhir_profiles import PACKAGE_DIR
from gateway.validator.package import CONFORMANCE_TYPES, FHIR_SD, Package, PackageError

PROFILE_DIR = PACKAGE_DIR / "StructureDefinition"
INDEX_PATH = PACKAGE_DIR / "index.json"
_NOT_MERGED = frozenset({"id", "path"})


def _strip_slices(element_id: str) -> str:
    return ".".join(part.split(":", 1)[0] for part in element_id.split("."))


class SnapshotBuilder:
    def __init__(self, package: Package) -> None:
        self._package = package
        self._done: dict[str, list[dict[str, Any]]] = {}

    def snapshot(self, url: str) -> list[dict[str, Any]]:
        """The snapshot elements of the StructureDefinition `url` (generated for profiles, as stored for bases)."""
        if url in self._done:
            return self._done[url]
        sd = self._package.require(url, "StructureDefinition")
        if sd.get("derivation") != "constraint":
            elements = [_with_base(e) for e in sd["snapshot"]["element"]]
        else:
            elements = self._apply(sd, copy.deepcopy(self.snapshot(sd["baseDefinition"])))
        self._done[url] = elements
        return elements

    def _apply(self, sd: dict[str, Any], elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for diff in sd.get("differential", {}).get("element", []):
            index = self._find(elements, diff["id"], sd["url"])
            _merge(elements[index], diff)
        return elements

    def _find(self, elements: list[dict[str, Any]], element_id: str, url: str) -> int:
        for index, element in enumerate(elements):
            if element["id"] == element_id:
                return index
        parent_id, _, last = element_id.rpartition(".")
        if not parent_id:
            raise PackageError(f"{url}: {element_id} is not an element of the base")
        if ":" in last:
            return self._add_slice(elements, parent_id, last, url)
        parent = self._find(elements, parent_id, url)
        if not self._has_children(elements, parent_id):
            self._expand(elements, parent, url)
        for index, element in enumerate(elements):
            if element["id"] == element_id:
                return index
        raise PackageError(f"{url}: {element_id} is not an element of {elements[parent]['id']}'s type")

    def _has_children(self, elements: list[dict[str, Any]], element_id: str) -> bool:
        prefix = element_id + "."
        return any(e["id"].startswith(prefix) for e in elements)

    def _expand(self, elements: list[dict[str, Any]], index: int, url: str) -> None:
        parent = elements[index]
        types = parent.get("type", [])
        if len(types) != 1:
            raise PackageError(f"{url}: constrain {parent['id']} to one type before constraining inside it")
        profiles = types[0].get("profile") or []
        source = profiles[0] if profiles else FHIR_SD + types[0]["code"]
        inner = copy.deepcopy(self.snapshot(source))
        root = inner[0]["id"]
        added = []
        for element in inner[1:]:
            element["id"] = parent["id"] + element["id"][len(root):]
            element["path"] = _strip_slices(parent["id"]) + element["path"][len(root):]
            added.append(element)
        elements[index + 1:index + 1] = added

    def _add_slice(self, elements: list[dict[str, Any]], parent_id: str, last: str, url: str) -> int:
        name, _, slice_name = last.partition(":")
        base_id = f"{parent_id}.{name}"
        base_index = self._find(elements, base_id, url)
        base = elements[base_index]
        if "slicing" not in base:
            raise PackageError(f"{url}: {base_id} has slices but no slicing")
        slice_id = f"{base_id}:{slice_name}"
        new = copy.deepcopy(base)
        new.pop("slicing")
        new["id"] = slice_id
        new["sliceName"] = slice_name
        subtree = []
        end = base_index + 1
        prefix = base_id + "."
        while end < len(elements) and (elements[end]["id"].startswith(prefix)
                                       or elements[end]["id"].startswith(base_id + ":")):
            element = elements[end]
            if element["id"].startswith(prefix):
                child = copy.deepcopy(element)
                child["id"] = slice_id + element["id"][len(base_id):]
                subtree.append(child)
            end += 1
        elements[end:end] = [new, *subtree]
        return end


def _with_base(element: dict[str, Any]) -> dict[str, Any]:
    out = dict(element)
    out.setdefault("base", {"path": element["path"], "min": element.get("min", 0), "max": element.get("max", "*")})
    return out


def _merge(target: dict[str, Any], diff: dict[str, Any]) -> None:
    for key, value in diff.items():
        if key in _NOT_MERGED:
            continue
        if key == "constraint":
            target["constraint"] = [*target.get("constraint", []), *copy.deepcopy(value)]
        else:
            target[key] = copy.deepcopy(value)


def generate(package: Package | None = None) -> dict[Path, dict[str, Any]]:
    """Every profile file with its snapshot regenerated, and the index; path → content."""
    package = package or Package.load()
    builder = SnapshotBuilder(package)
    out: dict[Path, dict[str, Any]] = {}
    for url, path in sorted(package.paths.items()):
        resource = package.resources[url]
        if (resource["resourceType"] == "StructureDefinition" and resource.get("derivation") == "constraint"
                and path.parent == PROFILE_DIR):  # base/ (SimpleQuantity) is written by generate_base
            updated = {k: v for k, v in resource.items() if k != "snapshot"}
            updated["snapshot"] = {"element": builder.snapshot(url)}
            out[path] = updated
    out[INDEX_PATH] = index(package)
    return out


def index(package: Package) -> dict[str, Any]:
    """What the package holds: one line per conformance resource, with its file."""
    files = []
    for url, path in sorted(package.paths.items()):
        resource = package.resources[url]
        if resource["resourceType"] not in CONFORMANCE_TYPES:
            continue
        entry = {"resourceType": resource["resourceType"], "id": resource.get("id"), "url": url,
                 "filename": path.relative_to(PACKAGE_DIR).as_posix()}
        for key in ("version", "kind", "type", "derivation"):
            if key in resource:
                entry[key] = resource[key]
        files.append(entry)
    return {"index-version": 1, "name": "homecare-gateway.fhir-profiles", "files": files}


def render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    files = generate()
    for path, content in files.items():
        path.write_text(render(content), encoding="utf-8")
    print(f"wrote {len(files) - 1} snapshots and {INDEX_PATH.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
