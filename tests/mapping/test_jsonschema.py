from __future__ import annotations

from bridge.mapping.jsonschema import SCHEMA_PATH, mapping_schema, render


def test_shipped_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), (
        "schema/mapping.schema.json is stale: run python -m bridge.mapping.jsonschema"
    )


def test_schema_forbids_unknown_keys_and_names_the_directions() -> None:
    schema = mapping_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"version", "agency", "partners"}
    assert schema["$defs"]["Direction"]["enum"] == ["to_partner", "to_agency", "both"]
