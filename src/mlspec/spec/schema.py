"""The published JSON Schema, generated from the spec models.

Editors (via the `yaml-language-server: $schema=` modeline) show each field's title,
description and example on hover, so every property gets an example: the one written on
the field, or one derived from its default or type.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_PATH = "schema/mlspec.schema.json"
SCHEMA_ID = "https://mlspec.dev/schema/mlspec.schema.json"


def generate_schema() -> dict:
    from mlspec.spec.models import MLSystemSpec

    schema = MLSystemSpec.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
    defs = schema.get("$defs", {})
    for definition in [schema, *defs.values()]:
        for name, prop in definition.get("properties", {}).items():
            # pydantic leaves the title off properties that are references to a model.
            prop.setdefault("title", _humanize(name))
            if "examples" not in prop:
                example = _example(prop, defs, depth=0)
                if example is not None:
                    prop["examples"] = [example]
    return schema


def schema_text() -> str:
    return json.dumps(generate_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _humanize(name: str) -> str:
    """`canaryTrafficPercent` -> `Canary Traffic Percent`, pydantic's own title style."""
    import re

    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.replace("_", " ")).split()
    return " ".join(w[:1].upper() + w[1:] for w in words)


def _example(schema: dict, defs: dict, depth: int) -> Any:
    if depth > 6:
        return None
    if "examples" in schema:
        return schema["examples"][0]
    if "default" in schema and schema["default"] not in (None, [], {}):
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "$ref" in schema:
        target = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return _example(target, defs, depth + 1)
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key, []):
            if option.get("type") != "null":
                found = _example(option, defs, depth + 1)
                if found is not None:
                    return found
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        required = schema.get("required") or list(schema["properties"])[:1]
        return {name: _example(schema["properties"][name], defs, depth + 1) for name in required}
    if kind == "object":
        value = _example(schema.get("additionalProperties", {}), defs, depth + 1)
        return {"name": value} if value is not None else {}
    if kind == "array":
        item = _example(schema.get("items", {}), defs, depth + 1)
        return [item] if item is not None else []
    return {"string": "text", "integer": 1, "number": 0.5, "boolean": True}.get(kind)
