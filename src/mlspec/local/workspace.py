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
here is the spec's, located in the original spec by its position tree (Workspace.where).

The spec is read once, by the front end every command uses (compiler.session.load_unit: the
loader's size and link guards, validation, checks, the IR). What the copy changes is read from
the IR and written as a local overlay: dotted spec keys and their values (`LocalOverlay`, the
shape environment `overrides` have), spliced into the spec's text by the round-trip editor
(source.yaml_edit), so the copy keeps the spec's comments and layout and differs from it by
exactly those values. The copy is compiled and written like any spec (compile_unit,
apply_results).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mlspec.errors import SpecError, UsageError
from mlspec.local.database import database_path
from mlspec.source.positions import PositionTree
from mlspec.source.yaml_edit import EditError

MARKER = ".mlspec-run-local"  # written in each work folder a run creates; a folder without it is not claimed
MARKER_TEXT = "This folder is a work folder of `mlspec run --local`: the run may replace everything in it.\n"
SOURCES = "sources"
DATABASES = "databases"
STORE = "store"
GENERATED = "generated"
MLFLOW = "mlflow"


@dataclass(frozen=True)
class LocalOverlay:
    """What the run's copy changes in the spec, as environment overrides say it: dotted key
    paths and their new values (`datasets.customers.storage`), and the keys it removes."""

    values: dict[str, str] = field(default_factory=dict)
    removed: tuple[str, ...] = ()

    def apply(self, text: str) -> str:
        """`text` with the overlay spliced in; every other byte as it was."""
        from mlspec.source.yaml_edit import remove_key, set_value

        for key, value in self.values.items():
            text = set_value(text, tuple(key.split(".")), value)
        for key in self.removed:
            text = remove_key(text, tuple(key.split(".")))
        return text


@dataclass(frozen=True)
class Workspace:
    root: Path
    original: Path  # the spec the user named
    spec: Path  # the copy pointed at this machine
    system_dir: Path  # the compiled system: <root>/generated/<system>
    system: object  # the IRSystem of the copy (mlspec.ir.model)
    files: dict[str, str]  # generated path (relative to system_dir) -> text
    positions: PositionTree = field(default_factory=PositionTree)  # of the original spec
    notes: tuple[str, ...] = ()
    project: object = None  # the IRProject of the copy (its environments), as compiled
    # dataset -> where its SQL source's query stands in `original`: (0-based line and column of
    # the value, the indentation of its lines when it is a block scalar `|` or `>`, else None)
    queries: dict[str, tuple[int, int, int | None]] = field(default_factory=dict)
    overlay: LocalOverlay = field(default_factory=LocalOverlay)  # what the copy changes

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

    def has(self, key: str | tuple) -> bool:
        """Whether the original spec writes the key `key` (dotted, or a key path)."""
        return self.positions.key_span(_path(key)) is not None

    def where(self, key: str | tuple) -> str:
        """`spec.yaml:31`: the line of the key `key` (dotted, `datasets.customers.columns`, or a
        key path) in the original spec, or of the nearest key above it that the spec writes;
        the spec's path alone when it writes none of them."""
        path = _path(key)
        for cut in range(len(path), 0, -1):
            span = self.positions.key_span(path[:cut])
            if span is not None:
                return f"{self.original}:{span.line}"
        return str(self.original)

    def sql_place(self, dataset: str, offset: int | None) -> str:
        """`spec.yaml:14:23`: where the character `offset` of a dataset's query stands in the
        spec (the query's own start when offset is None). Exact for block scalars and plain or
        quoted one-line queries (escapes in a quoted one aside)."""
        found = self.queries.get(dataset)
        if found is None:
            return self.where(("datasets", dataset, "source"))
        line, column, indent = found
        source = self.system and next((d.source for d in self.system.datasets if d.name == dataset), None)
        before = getattr(source, "sql", "")[:offset or 0]
        rows, last = before.count("\n"), len(before) - (before.rfind("\n") + 1)
        if indent is not None:  # the text starts on the line after `|`
            return f"{self.original}:{line + 2 + rows}:{indent + last + 1}"
        return f"{self.original}:{line + 1 + rows}:{(column if rows == 0 else 0) + last + 1}"


def _path(key: str | tuple) -> tuple:
    return tuple(key.split(".")) if isinstance(key, str) else tuple(key)


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


def prepare_workspace(spec_file: Path, workdir: Path, unit=None) -> Workspace:
    """Write the local copy of `spec_file` under `workdir` and compile it there. `unit`: the
    spec as the front end already read it (compiler.session.SpecUnit), so it is read once."""
    from mlspec.compiler.apply import apply_results
    from mlspec.compiler.compile import compile_unit
    from mlspec.compiler.session import load_text, load_unit

    if unit is None:
        if not Path(spec_file).is_file():
            raise UsageError(f"no spec file at {spec_file}")
        unit = load_unit(Path(spec_file))
    if not unit.ok:
        raise SpecError(f"{spec_file} has errors: nothing was run", [unit])
    workdir = claim_workdir(workdir, spec_file)
    source = unit.source
    overlay, notes = local_overlay(unit.project.base, workdir,
                                   lambda key: source.positions.has(tuple(key.split("."))))
    copy = workdir / Path(spec_file).name
    try:
        text = overlay.apply(source.text)
    except EditError as error:
        raise SpecError(f"{spec_file}: the local run cannot point its copy at this machine: {error}") from None
    copy.write_text(text, encoding="utf-8")

    out_root = workdir / GENERATED
    result = compile_unit(load_text(copy, text, out_root), out_root)
    if not result.ok:
        messages = "\n".join(f"  {d.message}" for d in result.diagnostics if d.severity.name == "ERROR")
        raise SpecError(f"the local copy of {spec_file} ({copy}) does not compile:\n{messages}")
    apply_results([result], out_root, [str(copy)], partial=False)
    for folder in (SOURCES, DATABASES, STORE, MLFLOW):
        (workdir / folder).mkdir(exist_ok=True)
    return Workspace(workdir, Path(spec_file), copy, out_root / result.system, result.project.base,
                     dict(result.files), source.positions, tuple(notes), result.project,
                     query_places(source.positions, source.text), overlay)


def sample_suffix(source) -> str:
    """The file suffix of a file source's sample: its format's (`jsonl` for JSON Lines)."""
    return "jsonl" if source.format == "json" and source.lines else source.format


def query_places(positions: PositionTree, text: str) -> dict[str, tuple[int, int, int | None]]:
    """dataset -> (line, column) of its query's value in the spec (0-based), and the
    indentation of its lines when it is a block scalar; see Workspace.sql_place."""
    lines = text.splitlines()
    places = {}
    for path, span in positions.values.items():
        if len(path) != 4 or path[0] != "datasets" or path[2:] != ("source", "sql"):
            continue
        line, column = span.line - 1, span.col - 1
        indent = None
        if line < len(lines) and lines[line][column:column + 1] in ("|", ">"):
            body = next((t for t in lines[line + 1:] if t.strip()), "")
            indent = len(body) - len(body.lstrip(" "))
        elif line < len(lines) and lines[line][column:column + 1] in ("'", '"'):
            column += 1
        places[str(path[1])] = (line, column, indent)
    return places


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


def local_overlay(system, workdir: Path, written: Callable[[str], bool] = lambda key: True
                  ) -> tuple[LocalOverlay, list[str]]:
    """What the run's copy changes, read from the spec's IR (`system`, an IRSystem), and the
    notes that say so. `written(key)`: whether the spec writes the dotted key (a value the spec
    leaves to its default, such as Feast's registry in the feature repository, stays so)."""
    values: dict[str, str] = {}
    notes = []
    platform = system.platform
    removed = tuple(f"platform.{key}" for key, block in (("objectStore", platform.object_store),
                                                          ("gcs", platform.gcs), ("azure", platform.azure))
                    if block is not None)
    if platform.object_store is not None:
        notes.append(f"object store: the spec's s3:// locations are folders under {workdir / STORE}")
    for block, scheme in ((platform.gcs, "gs"), (platform.azure, "abfs")):
        if block is not None:
            notes.append(f"object store: the spec's {scheme}:// locations are folders under {workdir / STORE}")
    mlflow_dir = workdir / MLFLOW
    values["platform.mlflow.trackingUri"] = f"sqlite:///{mlflow_dir / 'mlflow.db'}"
    notes.append(f"MLflow: tracking in {mlflow_dir / 'mlflow.db'} (SQLite, no server)")
    feast = platform.feast
    if feast is not None and feast.registry and written("platform.feast.registry"):
        values["platform.feast.registry"] = store_folder(workdir, feast.registry)
        Path(values["platform.feast.registry"]).parent.mkdir(parents=True, exist_ok=True)  # Feast makes only the file
    online = feast.online_store if feast is not None else None
    if isinstance(online, dict) and isinstance(online.get("path"), str) \
            and written("platform.feast.onlineStore.path"):
        # A SQLite online store is a file Feast writes: in the store too, never where the spec points.
        values["platform.feast.onlineStore.path"] = store_folder(workdir, online["path"])
        Path(values["platform.feast.onlineStore.path"]).parent.mkdir(parents=True, exist_ok=True)
    sql, files = {}, []
    for dataset in system.datasets:
        key = f"datasets.{dataset.name}"
        source = dataset.source
        if source is not None and source.kind == "sql":  # kept: its connection is pointed at a database file
            sql.setdefault(source.connection, []).append(dataset.name)
        elif source is not None:  # the declared format and its options kept: the sample is written as the spec says
            files.append(dataset.name)
            values[f"{key}.source.uri"] = str(workdir / SOURCES / f"{dataset.name}.{sample_suffix(source)}")
        if dataset.storage:
            values[f"{key}.storage"] = store_folder(workdir, dataset.storage)
        if dataset.dvc_remote:
            values[f"{key}.versioning.dvc.remote"] = store_folder(workdir, dataset.dvc_remote)
    if files:
        notes.append(f"file sources: sample data in {workdir / SOURCES}/<dataset>.<format> ({', '.join(files)})")
    for connection, names in sql.items():
        database = database_path(workdir / DATABASES, connection)
        notes.append(f"SQL sources: {', '.join(names)} read by their queries through the Airflow connection"
                     f" `{connection}`: sample data in the DuckDB file {database}")
    return LocalOverlay(values, removed), notes
