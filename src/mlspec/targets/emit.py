"""The one YAML and JSON emitter for generated files, so every target formats alike.

Key order is the order the target built (Kubernetes readers expect apiVersion, kind,
metadata, spec); targets sort wherever order carries no meaning. No line wrapping, so a
long PromQL query stays on one reviewable line; multi-line strings become block literals.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import yaml


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False):
        # Indent list items under their key, as kubectl and most style guides do.
        return super().increase_indent(flow, False)


def _str_representer(dumper: yaml.SafeDumper, value: str):
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1 << 20, explicit_start=False)


def dump_yaml_all(values: Iterable[Any]) -> str:
    return "---\n".join(dump_yaml(v) for v in values)


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
