"""OpenLineage's published JSON Schemas (vendor/schemas/openlineage, provenance in
vendor/README.md): each RunEvent validated against `OpenLineage.json#/$defs/RunEvent`, and each
facet against the schema its `_schemaURL` names, which must be one of OpenLineage's own (the
core spec's facet definitions, or a facet schema at the version the event names)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema
from referencing import Registry, Resource

VENDORED = Path(__file__).resolve().parents[2] / "vendor" / "schemas" / "openlineage"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


@lru_cache(maxsize=1)
def registry() -> Registry:
    resources = []
    for path in [VENDORED / "OpenLineage.json", *sorted((VENDORED / "facets").glob("*.json"))]:
        document = json.loads(path.read_text(encoding="utf-8"))
        resources.append((document["$id"], Resource.from_contents(document)))
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def _validator(url: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": url}, registry=registry())


def _facets(event: dict):
    """(where, facet) of every facet of the event."""
    for key, facet in ((event.get("run") or {}).get("facets") or {}).items():
        yield f"run.facets.{key}", facet
    for key, facet in ((event.get("job") or {}).get("facets") or {}).items():
        yield f"job.facets.{key}", facet
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for index, dataset in enumerate(event.get(side) or []):
            for group in ("facets", extra):
                for key, facet in (dataset.get(group) or {}).items():
                    yield f"{side}[{index}].{group}.{key}", facet


def event_errors(event: dict) -> list[str]:
    """Why the event is not a valid RunEvent of OpenLineage's schemas ([] when it is)."""
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '(event)'}: {e.message}"
              for e in _validator(f"{CORE}#/$defs/RunEvent").iter_errors(event)]
    for where, facet in _facets(event):
        url = facet.get("_schemaURL", "") if isinstance(facet, dict) else ""
        base = url.split("#", 1)[0]
        try:
            registry().get_or_retrieve(base)
        except Exception:  # noqa: BLE001 - referencing raises its own error types: not one of the vendored schemas
            errors.append(f"{where}: its _schemaURL {url!r} is not one of OpenLineage's vendored schemas")
            continue
        errors += [f"{where}: {e.message}" for e in _validator(url).iter_errors(facet)]
    return errors
