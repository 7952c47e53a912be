"""The JSON Schema of mapping.yaml, generated from the pydantic models, for editors.

``python -m bridge.mapping.jsonschema`` rewrites ``schema/mapping.schema.json``;
a test fails when the shipped file is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bridge.mapping.schema import MappingFile

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "mapping.schema.json"


def mapping_schema() -> dict[str, Any]:
    schema = MappingFile.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def render() -> str:
    return json.dumps(mapping_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else SCHEMA_PATH
    target.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
