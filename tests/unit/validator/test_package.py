"""The package: generated files in sync with their generators, every resource loadable, codes as the mapping emits."""

from __future__ import annotations

import json

from fhir_profiles import PACKAGE_DIR, resource_paths
from gateway.fhir import urls
from gateway.validator import Validator, generate_base, snapshot
from gateway.validator.package import Package
from gateway.validator.profiles import CAPABILITY_STATEMENT


def test_base_definitions_are_in_sync_with_the_generator() -> None:
    generated = generate_base.generate()
    on_disk = {p.name for p in generate_base.BASE_DIR.glob("StructureDefinition-*.json")}
    assert on_disk == set(generated), "run python -m gateway.validator.generate_base"
    for name, definition in generated.items():
        assert (generate_base.BASE_DIR / name).read_text(encoding="utf-8") == generate_base.render(definition), name


def test_snapshots_and_index_are_in_sync() -> None:
    for path, content in snapshot.generate().items():
        assert json.loads(path.read_text(encoding="utf-8")) == content, (
            f"{path.name} is stale: run python -m gateway.validator.snapshot")


def test_index_lists_every_conformance_resource() -> None:
    index = json.loads((PACKAGE_DIR / "index.json").read_text(encoding="utf-8"))
    listed = {entry["filename"] for entry in index["files"]}
    files = {p.relative_to(PACKAGE_DIR).as_posix() for p in resource_paths() if p.name != "index.json"}
    assert listed == files


def test_every_profile_compiles_and_names_its_base(validator: Validator) -> None:
    package = Package.load()
    for url in validator.profiles():
        sd = package.resources[url]
        assert sd["baseDefinition"] in package.resources, url
        assert sd["snapshot"]["element"][0]["id"] == sd["type"]


def test_service_type_codes_match_the_mapping(validator: Validator) -> None:
    expansion = validator.terminology.expand("https://fhir.homecaregateway.uk/ValueSet/homecare-service-type")
    emitted = {(urls.HOMECARE_SERVICE_TYPE, code) for code, _ in urls.HOMECARE_SERVICE_TYPES.values()}
    assert expansion.codes == emitted
    for code, display in urls.HOMECARE_SERVICE_TYPES.values():
        assert expansion.displays[(urls.HOMECARE_SERVICE_TYPE, code)] == display


def test_delivery_statuses_and_task_inputs_match_the_code_tables(validator: Validator) -> None:
    for system, table in ((urls.HOMECARE_DELIVERY_STATUS, urls.HOMECARE_DELIVERY_STATUSES),
                          (urls.HOMECARE_TASK_INPUT, urls.HOMECARE_TASK_INPUTS)):
        assert validator.terminology.displays_of(system) == table


def test_fragment_code_systems_are_not_checked_offline(validator: Validator) -> None:
    expansion = validator.terminology.expand("https://fhir.homecaregateway.uk/ValueSet/eps-prescription-type")
    assert expansion.contains(urls.PRESCRIPTION_TYPE, "1201") is True
    assert expansion.contains(urls.PRESCRIPTION_TYPE, "9999") is None
    homecare = validator.terminology.expand("https://fhir.homecaregateway.uk/ValueSet/homecare-prescription-type")
    assert homecare.contains(urls.PRESCRIPTION_TYPE, "1001") is False


def test_capability_statement_lists_the_profiles(validator: Validator) -> None:
    statement = validator.capability_statement()
    assert statement["url"] == CAPABILITY_STATEMENT
    supported = {p for r in statement["rest"][0]["resource"] for p in r.get("supportedProfile", [])}
    assert supported <= set(validator.profiles())


def test_from_package_is_built_once() -> None:
    assert Validator.from_package() is Validator.from_package()


def test_a_package_folder_can_be_given(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for path in resource_paths():
        target = tmp_path / path.relative_to(PACKAGE_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    other = Validator.from_package(tmp_path)
    assert other is not Validator.from_package()
    assert other.validate({"resourceType": "Patient", "gender": "F"})[0].code == "CODE_NOT_IN_VALUESET"
