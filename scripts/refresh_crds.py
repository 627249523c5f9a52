#!/usr/bin/env python3
"""Refresh the vendored strict CRD schemas (vendor/crds/) from upstream CustomResourceDefinitions.

    python scripts/refresh_crds.py URL-or-PATH... [--out vendor/crds] [--source REPO@COMMIT:PATH (REF)]

Each argument is a CRD YAML file (a local path, or an https:// URL of the raw file at a pinned
commit; a file may hold several documents). For every served version of every CRD in it, the
`openAPIV3Schema` becomes one Draft 2020-12 JSON Schema, `<group>_<kind>_<version>.json`, made
the way vendor/crds/README.md describes:

- OpenAPI's `nullable: true` becomes a `"null"` type; `x-kubernetes-int-or-string` becomes
  `anyOf: [integer, string]`; boolean `exclusiveMinimum`/`exclusiveMaximum` become numbers;
- STRICT: `additionalProperties: false` wherever the CRD lists `properties` and neither
  preserves unknown fields nor says what extra properties may hold;
- `apiVersion` and `kind` are pinned (enum of one value) and required;
- the top-level `metadata` is the subset of ObjectMeta checked here (DNS-1123 name and
  namespace, label and annotation key syntax, label value syntax).

After a refresh, update the provenance table in vendor/crds/README.md (repository, tag,
commit, path, license) and run the tests that use the schemas (tests/support/crds.py).
Needs PyYAML (a dependency of mlspec).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "vendor" / "crds"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

LABEL_KEY = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
             r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")
OBJECT_META = {
    "$comment": "added by extract.py (strict only): subset of metav1.ObjectMeta validation",
    "additionalProperties": False,
    "properties": {
        "annotations": {"additionalProperties": {"type": "string"}, "propertyNames": {"pattern": LABEL_KEY},
                        "type": "object"},
        "creationTimestamp": {"type": ["string", "null"]},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "deletionTimestamp": {"type": ["string", "null"]},
        "finalizers": {"items": {"type": "string"}, "type": "array"},
        "generateName": {"type": "string"},
        "generation": {"type": "integer"},
        "labels": {"additionalProperties": {"maxLength": 63, "pattern": r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$",
                                            "type": "string"},
                   "propertyNames": {"pattern": LABEL_KEY}, "type": "object"},
        "managedFields": {"type": "array"},
        "name": {"maxLength": 253, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                 "type": "string"},
        "namespace": {"maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "type": "string"},
        "ownerReferences": {"items": {"type": "object"}, "type": "array"},
        "resourceVersion": {"type": "string"},
        "selfLink": {"type": "string"},
        "uid": {"type": "string"},
    },
    "type": "object",
}


def read_text(source: str) -> str:
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=60) as response:  # noqa: S310 (a URL the maintainer names)
            return response.read().decode()
    return Path(source).read_text()


def to_draft_2020(node):
    """An OpenAPI v3 schema node (as a CRD writes it) as JSON Schema 2020-12, made strict."""
    if isinstance(node, list):
        return [to_draft_2020(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_draft_2020(value) if key not in ("enum", "default", "example", "required") else copy.deepcopy(value)
           for key, value in node.items() if key != "nullable"}
    for key in ("properties", "patternProperties", "definitions", "$defs"):
        if isinstance(node.get(key), dict):
            out[key] = {name: to_draft_2020(value) for name, value in node[key].items()}
    if node.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        out.pop("type", None)
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), bool):
            if node[bound] and limit in node:
                out[bound] = out.pop(limit)
            else:
                out.pop(bound)
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def strict_schema(group: str, kind: str, version: str, openapi: dict, comment: str) -> dict:
    schema = to_draft_2020(openapi)
    schema.setdefault("properties", {})
    schema["properties"]["apiVersion"] = {**schema["properties"].get("apiVersion", {}), "type": "string",
                                          "enum": [f"{group}/{version}"]}
    schema["properties"]["kind"] = {**schema["properties"].get("kind", {}), "type": "string", "enum": [kind]}
    schema["properties"]["metadata"] = copy.deepcopy(OBJECT_META)
    schema["required"] = ["apiVersion", "kind"] + [r for r in openapi.get("required", []) if r not in ("apiVersion", "kind")]
    schema["additionalProperties"] = False
    schema["type"] = "object"
    return {"$comment": comment, "$schema": DRAFT, "title": f"{kind} ({group}/{version})", **schema}


def schemas_of(text: str, source: str) -> dict[str, dict]:
    """File name -> strict schema, for every served version of every CRD in `text`."""
    found = {}
    for document in yaml.safe_load_all(text):
        if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
            continue
        spec = document["spec"]
        group, kind = spec["group"], spec["names"]["kind"]
        for version in spec.get("versions", []):
            openapi = (version.get("schema") or {}).get("openAPIV3Schema")
            if openapi is None or not version.get("served", True):
                continue
            comment = (f"Generated by extract.py from {source}; CRD openAPIV3Schema, OpenAPI nullable/int-or-string/"
                       "exclusive* rewritten for draft 2020-12. STRICT: additionalProperties=false where the CRD "
                       "lists properties and does not preserve unknown fields; ObjectMeta subset for metadata.")
            name = f"{group}_{kind.lower()}_{version['name']}.json"
            found[name] = strict_schema(group, kind, version["name"], openapi, comment)
    return found


def dump(schema: dict) -> str:
    """As the vendored files are written: compact, keys sorted, one line."""
    return json.dumps(schema, separators=(",", ":"), sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", help="CRD YAML files: local paths or https:// URLs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write into [vendor/crds]")
    parser.add_argument("--source", default=None,
                        help="provenance recorded in each file's $comment, e.g. 'kserve/kserve@<commit>:<path> (v0.20.0)'"
                             " [default: the URL or path]")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file would change")
    args = parser.parse_args(argv)
    stale = []
    for source in args.sources:
        found = schemas_of(read_text(source), args.source or source)
        if not found:
            print(f"{source}: no CustomResourceDefinition with an openAPIV3Schema", file=sys.stderr)
            return 2
        for name, schema in sorted(found.items()):
            target = args.out / name
            text = dump(schema)
            if args.check:
                if not target.is_file() or target.read_text() != text:
                    stale.append(name)
                continue
            args.out.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            print(f"wrote {target}")
    if stale:
        print("would change: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
