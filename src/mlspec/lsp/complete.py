"""Completion: the keys a mapping takes (from the spec models, with their documentation),
and the values a place takes: the names it may refer to (datasets, views and their
features, `view.*`, SLOs, columns), the gate metrics of the model's task, column types and
every other fixed set of words."""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.lsp.context import CursorContext
from mlspec.spec import fields
from mlspec.source.positions import value_at


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "key", "value" or "reference"
    insert: str  # the text that replaces what is typed of the word
    detail: str = ""
    documentation: str = ""


def _matches(pattern: tuple, path: tuple) -> bool:
    return len(pattern) == len(path) and all(p == "*" or (p == "#" and isinstance(x, int)) or p == x
                                             for p, x in zip(pattern, path))


def _names(data, section: str) -> list[str]:
    value = value_at(data, (section,))
    return [str(k) for k in value] if isinstance(value, dict) else []


def _columns(data, dataset, only_type: str | None = None) -> list[str]:
    columns = value_at(data, ("datasets", dataset, "columns"))
    if not isinstance(columns, dict):
        return []
    return [str(name) for name, column in columns.items()
            if only_type is None or (isinstance(column, dict) and column.get("type") == only_type)]


def _label_dataset(data, model: str):
    label = value_at(data, ("models", model, "label"))
    return label.partition(".")[0] if isinstance(label, str) else None


def _scalar(value) -> str:
    from mlspec.source.yaml_edit import format_scalar

    return format_scalar(value)


def _references(ctx: CursorContext, data) -> list[Item] | None:
    """Values that name something defined elsewhere in the spec; None when the place takes
    no reference."""
    path, kind = ctx.path, ctx.kind

    def refs(names, detail: str) -> list[Item]:
        return [Item(n, "reference", _scalar(n), detail) for n in names]

    if kind == "value":
        if _matches(("featureViews", "*", "source"), path) or \
                _matches(("models", "*", "monitoring", "drift", "predictions"), path):
            return refs(_names(data, "datasets"), "dataset")
        if _matches(("models", "*", "rollout", "slo"), path) or _matches(
                ("environments", "*", "overrides", "*"), path) and str(path[-1]).endswith(".rollout.slo"):
            return refs(_names(data, "slos"), "SLO")
        if _matches(("models", "*", "label"), path):
            return refs([f"{d}.{c}" for d in _names(data, "datasets") for c in _columns(data, d)], "label column")
        if _matches(("featureViews", "*", "timestampField"), path):
            source = value_at(data, ("featureViews", path[1], "source"))
            return refs(_columns(data, source, "timestamp") or _columns(data, source), "timestamp column")
        if _matches(("models", "*", "evaluation", "split", "column"), path):
            dataset = _label_dataset(data, path[1])
            return refs(_columns(data, dataset, "timestamp") or _columns(data, dataset), "timestamp column")
        if _matches(("datasets", "*", "expectations", "#", "column"), path):
            return refs(_columns(data, path[1]), "column")
        if _matches(("datasets", "*", "expectations", "#", "expect"), path):
            from mlspec.check.references import KNOWN_EXPECTATIONS

            return refs(sorted(KNOWN_EXPECTATIONS), "Great Expectations expectation")
    if kind == "item":
        if _matches(("models", "*", "features"), path):
            found = []
            for view in _names(data, "featureViews"):
                features = value_at(data, ("featureViews", view, "features"))
                found.append(Item(f"{view}.*", "reference", f"{view}.*", "every feature of the view"))
                for feature, dtype in (features.items() if isinstance(features, dict) else []):
                    found.append(Item(f"{view}.{feature}", "reference", f"{view}.{feature}", f"feature ({dtype})"))
            return found
        if _matches(("featureViews", "*", "entities"), path):
            return refs(_names(data, "entities"), "entity")
        if _matches(("entities", "*", "joinKeys"), path):
            sources = {value_at(data, ("featureViews", v, "source")) for v in _names(data, "featureViews")
                       if path[1] in (value_at(data, ("featureViews", v, "entities")) or [])}
            datasets = sorted(s for s in sources if isinstance(s, str)) or _names(data, "datasets")
            return refs(sorted({c for d in datasets for c in _columns(data, d)}), "column")
        if _matches(("models", "*", "evaluation", "fairness", "sensitive"), path):
            return refs(_columns(data, _label_dataset(data, path[1])), "column of the label's dataset")
    if kind == "key":
        if _matches(("models", "*", "evaluation", "gates"), path):
            from mlspec.check.consistency import METRICS_OF, TASK_FAMILY

            task = value_at(data, ("models", path[1], "task"))
            metrics = METRICS_OF[TASK_FAMILY.get(task if isinstance(task, str) else "", "classification")]
            present = value_at(data, path)
            present = present if isinstance(present, dict) else {}
            return [Item(m, "key", f'{m}: ">= "', f"gate metric ({task or 'classification'})")
                    for m in metrics if m not in present]
        if _matches(("featureViews", "*", "features"), path):
            source = value_at(data, ("featureViews", path[1], "source"))
            columns = value_at(data, ("datasets", source, "columns")) if isinstance(source, str) else None
            present = value_at(data, path)
            present = present if isinstance(present, dict) else {}
            return [Item(name, "key", f"{name}: {column.get('type')}" if isinstance(column, dict) else f"{name}: ",
                         f"column of `{source}`") for name, column in (columns or {}).items() if name not in present]
    return None


def complete(ctx: CursorContext, data) -> list[Item]:
    """What may be written at the cursor. `data`: the document as last loaded (names)."""
    data = data if isinstance(data, dict) else {}
    found = _references(ctx, data)
    if found is not None:
        return found
    if ctx.path[:1] == ("environments",) and len(ctx.path) >= 3 and ctx.path[2] == "overrides":
        return []  # override keys are paths into the spec, not keys of the models
    if ctx.kind == "value":
        return [Item(_scalar(v), "value", _scalar(v)) for v in fields.values_at(ctx.path)]
    if ctx.kind == "item":
        items = [Item(_scalar(v), "value", _scalar(v)) for v in fields.values_at(ctx.path + (0,))]
        return items + _keys(ctx.path + (0,), {})
    return _keys(ctx.path, value_at(data, ctx.path))


def _keys(path: tuple, present) -> list[Item]:
    present = present if isinstance(present, dict) else {}
    items = []
    for doc in fields.keys_at(path):
        if doc.key in present:
            continue
        detail = "required" if doc.required else (f"default: {_scalar(doc.default)}"
                                                   if doc.default not in (None, {}, []) and not isinstance(
                                                       doc.default, dict) else "optional")
        items.append(Item(doc.key, "key", f"{doc.key}: ", detail, doc.description))
    return items
