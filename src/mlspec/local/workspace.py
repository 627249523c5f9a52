"""The work folder of `mlspec run --local`: a copy of the spec pointed at this machine, and the
files it compiles to.

The copy changes only where things live, never what the system does:

- every file source becomes a file of its declared format (and options) under `sources/`; a
  SQL source keeps its query and connection, and that Airflow connection becomes a DuckDB file under `databases/` (the run
  sets AIRFLOW_CONN_<ID>: mlspec.local.database). Sample data is written to both
  (mlspec.local.data);
- every `s3://` location (storage, DVC remotes, the Feast registry) becomes a folder under
  `store/` (`s3://raw-data/customers.parquet` -> `store/raw-data/customers.parquet`; gs:// and
  abfs:// ones under `store/gs+<bucket>/`, `store/abfs+<container>/`): the generated tasks read
  and write absolute paths as they do object stores, so no object store runs;
- `platform.objectStore`, `platform.gcs` and `platform.azure` go (nothing to reach), and MLflow tracks into `mlflow/mlflow.db`
  (SQLite: no server), its artifacts under `mlflow/artifacts/`.

Everything else (schemas, expectations, feature views, gates) is the spec's own, so a failure
here is the spec's: `anchors` maps each dataset and model to its line in the original spec.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.errors import SpecError, UsageError
from mlspec.local.database import database_path

MARKER = ".mlspec-run-local"  # written in each work folder a run creates; a folder without it is not claimed
MARKER_TEXT = "This folder is a work folder of `mlspec run --local`: the run may replace everything in it.\n"
SOURCES = "sources"
DATABASES = "databases"
STORE = "store"
GENERATED = "generated"
MLFLOW = "mlflow"


@dataclass(frozen=True)
class Workspace:
    root: Path
    original: Path  # the spec the user named
    spec: Path  # the copy pointed at this machine
    system_dir: Path  # the compiled system: <root>/generated/<system>
    system: object  # the IRSystem of the copy (mlspec.ir.model)
    files: dict[str, str]  # generated path (relative to system_dir) -> text
    anchors: dict[str, int] = field(default_factory=dict)  # "datasets.customers" -> line in `original`
    notes: tuple[str, ...] = ()
    project: object = None  # the IRProject of the copy (its environments), as compiled
    # dataset -> where its SQL source's query stands in `original`: (0-based line and column of
    # the value, the indentation of its lines when it is a block scalar `|` or `>`, else None)
    queries: dict[str, tuple[int, int, int | None]] = field(default_factory=dict)

    @property
    def dags(self) -> Path:
        return self.system_dir / "airflow" / "dags"

    @property
    def sources(self) -> Path:
        return self.root / SOURCES

    @property
    def databases(self) -> Path:
        """The DuckDB files of the Airflow connections SQL sources name (mlspec.local.database)."""
        return self.root / DATABASES

    @property
    def store(self) -> Path:
        return self.root / STORE

    @property
    def mlflow_dir(self) -> Path:
        return self.root / MLFLOW

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    def where(self, key: str) -> str:
        """`spec.yaml:31` for an anchor key, else the spec's path."""
        line = self.anchors.get(key)
        return f"{self.original}:{line}" if line else str(self.original)

    def sql_place(self, dataset: str, offset: int | None) -> str:
        """`spec.yaml:14:23`: where the character `offset` of a dataset's query stands in the
        spec (the query's own start when offset is None). Exact for block scalars and plain or
        quoted one-line queries (escapes in a quoted one aside)."""
        found = self.queries.get(dataset)
        if found is None:
            return self.where(f"datasets.{dataset}.source")
        line, column, indent = found
        source = self.system and next((d.source for d in self.system.datasets if d.name == dataset), None)
        before = getattr(source, "sql", "")[:offset or 0]
        rows, last = before.count("\n"), len(before) - (before.rfind("\n") + 1)
        if indent is not None:  # the text starts on the line after `|`
            return f"{self.original}:{line + 2 + rows}:{indent + last + 1}"
        return f"{self.original}:{line + 1 + rows}:{(column if rows == 0 else 0) + last + 1}"


def claim_workdir(workdir: Path, spec_file: Path) -> Path:
    """The work folder, resolved, once it is certain the run may write there: a folder that does
    not exist yet (made, with the marker), an empty one (marked), or one that carries the marker
    of an earlier run. Refused (UsageError, exit 2), before anything is written: a file, the
    folder of the spec being run or one above it, a git repository's root, a folder holding
    anything mlspec did not put there."""
    resolved = Path(workdir).resolve()
    spec = Path(spec_file).resolve()
    why = None
    if resolved.exists() and not resolved.is_dir():
        why = "it is not a folder"
    elif spec.is_relative_to(resolved):
        why = f"it holds the spec being run ({spec}), which the run's copy would replace"
    elif (resolved / ".git").exists():
        why = "it is the root of a git repository"
    elif resolved.is_dir() and any(resolved.iterdir()) and not _marked(resolved):
        why = f"it holds files mlspec did not create (no {MARKER} file from an earlier run)"
    if why:
        raise UsageError(f"--workdir {workdir}: not used as a work folder: {why}. A local run replaces what it"
                         f" finds in its work folder; name a new or empty folder (the default is"
                         f" .mlspec/run/<spec name>)")
    if not resolved.exists() or not _marked(resolved):
        resolved.mkdir(parents=True, exist_ok=True)
        (resolved / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    return resolved


def _marked(folder: Path) -> bool:
    marker = folder / MARKER
    return marker.is_file() and not marker.is_symlink()


def prepare_workspace(spec_file: Path, workdir: Path) -> Workspace:
    """Write the local copy of `spec_file` under `workdir` and compile it there."""
    from ruamel.yaml import YAML

    from mlspec.compiler.compile import compile_spec

    if not spec_file.is_file():
        raise UsageError(f"no spec file at {spec_file}")
    workdir = claim_workdir(workdir, spec_file)
    yaml = YAML()
    document = yaml.load(spec_file.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise SpecError(f"{spec_file} is not a spec (a YAML mapping)")
    anchors = _anchors(document)
    queries = _query_places(document, spec_file.read_text(encoding="utf-8"))
    notes = _point_at(document, workdir)
    copy = workdir / spec_file.name
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    copy.write_text(buffer.getvalue(), encoding="utf-8")

    result = compile_spec(copy, workdir / GENERATED)
    if not result.ok:
        messages = "\n".join(f"  {d.message}" for d in result.diagnostics if d.severity.name == "ERROR")
        raise SpecError(f"the local copy of {spec_file} ({copy}) does not compile:\n{messages}")
    system_dir = workdir / GENERATED / result.system
    for path, text in result.files.items():
        target = system_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for folder in (SOURCES, DATABASES, STORE, MLFLOW):
        (workdir / folder).mkdir(exist_ok=True)
    return Workspace(workdir, spec_file, copy, system_dir, result.project.base, dict(result.files), anchors,
                     tuple(notes), result.project, queries)


def sample_suffix(source) -> str:
    """The file suffix of a file source's sample: its format's (`jsonl` for JSON Lines)."""
    fmt = str(source.get("format") or "parquet")
    json = source.get("json") if isinstance(source.get("json"), dict) else {}
    return "jsonl" if fmt == "json" and json.get("lines") else fmt


def _query_places(document, text: str) -> dict[str, tuple[int, int, int | None]]:
    """dataset -> (line, column) of its query's value in the spec, and the indentation of its
    lines when it is a block scalar; see Workspace.sql_place."""
    lines = text.splitlines()
    places = {}
    for name, dataset in (document.get("datasets") or {}).items():
        source = dataset.get("source") if isinstance(dataset, dict) else None
        if not hasattr(source, "lc") or "sql" not in source:
            continue
        line, column = source.lc.value("sql")
        indent = None
        if line < len(lines) and lines[line][column:column + 1] in ("|", ">"):
            body = next((t for t in lines[line + 1:] if t.strip()), "")
            indent = len(body) - len(body.lstrip(" "))
        elif line < len(lines) and lines[line][column:column + 1] in ("'", '"'):
            column += 1
        places[str(name)] = (line, column, indent)
    return places


def _anchors(document) -> dict[str, int]:
    """1-based lines of each dataset, model and model gate block in the original spec."""
    found = {}
    for section in ("datasets", "models", "featureViews"):
        block = document.get(section)
        if not hasattr(block, "lc"):
            continue
        for name in block:
            found[f"{section}.{name}"] = block.lc.key(name)[0] + 1
            entry = block[name]
            evaluation = entry.get("evaluation") if isinstance(entry, dict) else None
            for key in ("gates", "fairness"):
                if hasattr(evaluation, "lc") and key in evaluation:
                    found[f"{section}.{name}.{key}"] = evaluation.lc.key(key)[0] + 1
            if section == "models" and hasattr(entry, "lc"):
                for key in ("serving", "monitoring"):
                    if key in entry:
                        found[f"{section}.{name}.{key}"] = entry.lc.key(key)[0] + 1
            if section == "datasets" and hasattr(entry, "lc"):
                for key in ("source", "columns", "expectations", "storage"):
                    if key in entry:
                        found[f"{section}.{name}.{key}"] = entry.lc.key(key)[0] + 1
    return found


def local_path(uri: str) -> Path:
    """The path of a `file://` URI or a plain path."""
    return Path(uri.removeprefix("file://"))


def inside(folder: Path, path: Path, what: str) -> Path:
    """`path`, checked to stay under `folder` once resolved (`..` segments and links followed):
    a SpecError naming `what` otherwise, before anything is read or written there."""
    base = Path(folder).resolve()
    resolved = Path(path).resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise SpecError(f"{what} would be {resolved}, outside {base}: a local run reads and writes only in its"
                        f" work folder (a location may not climb out of its folder or bucket with `..`)")
    return resolved


def store_folder(workdir: Path, uri: str) -> str:
    """Where an `s3://`, `gs://`, `abfs://`, `file://` or absolute location lives in the work
    folder's store: a gs:// or abfs:// bucket gets its scheme in front (`gs+lake/...`: no S3
    bucket name has a `+`), so it never shares a folder with an S3 bucket of the same name. A
    location that would land outside the store (`s3://../x`, `s3://b/../../x`) is a SpecError."""
    original = uri
    for scheme in ("gs://", "abfs://"):
        if uri.startswith(scheme):
            uri = f"{scheme[:-3]}+{uri[len(scheme):]}"
    for scheme in ("s3://", "file://"):
        if uri.startswith(scheme):
            uri = uri[len(scheme):]
    mapped = workdir / STORE / uri.lstrip("/")
    inside(workdir / STORE, mapped, f"`{original}` (mapped into the work folder's store)")
    return str(mapped)


def _point_at(document, workdir: Path) -> list[str]:
    notes = []
    platform = document.get("platform") or {}
    if platform.pop("objectStore", None) is not None:
        notes.append(f"object store: the spec's s3:// locations are folders under {workdir / STORE}")
    for key, scheme in (("gcs", "gs"), ("azure", "abfs")):
        if platform.pop(key, None) is not None:
            notes.append(f"object store: the spec's {scheme}:// locations are folders under {workdir / STORE}")
    mlflow_dir = workdir / MLFLOW
    platform.setdefault("mlflow", {})["trackingUri"] = f"sqlite:///{mlflow_dir / 'mlflow.db'}"
    notes.append(f"MLflow: tracking in {mlflow_dir / 'mlflow.db'} (SQLite, no server)")
    feast = platform.get("feast")
    if isinstance(feast, dict) and isinstance(feast.get("registry"), str):
        feast["registry"] = store_folder(workdir, feast["registry"])
        Path(feast["registry"]).parent.mkdir(parents=True, exist_ok=True)  # Feast makes only the file
    online = feast.get("onlineStore") if isinstance(feast, dict) else None
    if isinstance(online, dict) and isinstance(online.get("path"), str):
        # A SQLite online store is a file Feast writes: in the store too, never where the spec points.
        online["path"] = store_folder(workdir, online["path"])
        Path(online["path"]).parent.mkdir(parents=True, exist_ok=True)
    if platform:
        document["platform"] = platform
    sql, files = {}, []
    for name, dataset in (document.get("datasets") or {}).items():
        if not isinstance(dataset, dict):
            continue
        source = dataset.get("source")
        if isinstance(source, dict):
            if "sql" in source:  # kept: its connection is pointed at a database file instead
                sql.setdefault(str(source.get("connection")), []).append(name)
            else:  # the declared format and its options kept: the sample is written as the spec says
                files.append(name)
                source["uri"] = str(workdir / SOURCES / f"{name}.{sample_suffix(source)}")
        if isinstance(dataset.get("storage"), str):
            dataset["storage"] = store_folder(workdir, dataset["storage"])
        dvc = (dataset.get("versioning") or {}).get("dvc") if isinstance(dataset.get("versioning"), dict) else None
        if isinstance(dvc, dict) and isinstance(dvc.get("remote"), str):
            dvc["remote"] = store_folder(workdir, dvc["remote"])
    if files:
        notes.append(f"file sources: sample data in {workdir / SOURCES}/<dataset>.<format> ({', '.join(files)})")
    for connection, names in sql.items():
        database = database_path(workdir / DATABASES, connection)
        notes.append(f"SQL sources: {', '.join(names)} read by their queries through the Airflow connection"
                     f" `{connection}`: sample data in the DuckDB file {database}")
    return notes
