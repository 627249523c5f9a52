"""The spec language as pydantic models.

These mirror the YAML exactly (camelCase keys, references kept as strings); resolving
references and applying environment overlays is the IR's job, not theirs. Every field
carries a description and an example because `mlspec schema` publishes them to editors.

No `from __future__ import annotations` here: pydantic would have to compile and evaluate
each of the ~160 annotation strings at import (a tenth of `mlspec validate`'s own time), so
classes are defined before the classes that use them.
"""

import datetime
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator,
                      model_validator)
from pydantic_core import PydanticCustomError

from mlspec.spec.types import (
    AzureAccount,
    DnsLabel,
    Duration,
    GitRevision,
    GitUrl,
    Identifier,
    ImageRef,
    LabelKey,
    LabelValue,
    ModelVersion,
    ObjectUri,
    PackageRequirement,
    Quantity,
    RegionName,
    RepoPath,
    ResourceName,
    CronJobSchedule,
    Schedule,
    SourceUri,
    StorageUri,
    SystemName,
    Url,
)

API_VERSION = "mlspec/v1alpha1"
KIND = "MLSystem"

COLUMN_TYPES = ("int8", "int16", "int32", "int64", "float32", "float64", "bool", "string", "timestamp", "bytes")
ColumnType = Literal["int8", "int16", "int32", "int64", "float32", "float64", "bool", "string", "timestamp", "bytes"]

# Metrics a gate may name, per task; "lower is better" ones are listed separately so the
# pipeline knows which way a gate points.
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "balanced_accuracy")
REGRESSION_METRICS = ("rmse", "mae", "r2", "mape")
LOWER_IS_BETTER = ("log_loss", "rmse", "mae", "mape")
# What a new version must beat the current alias holder on when the spec names no gate and no
# `primaryMetric`: the metric each task is most often judged by.
DEFAULT_PRIMARY_METRIC = {"binary_classification": "roc_auc", "multiclass_classification": "accuracy",
                          "regression": "rmse", "ranking": "ndcg"}
TASKS = ("binary_classification", "multiclass_classification", "regression", "ranking")
# The fairness metrics each task can compare across groups: per-group rates of the positive
# class need a positive class (a binary model); accuracy is defined for any classifier.
FAIRNESS_METRICS = {
    "binary_classification": ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"),
    "multiclass_classification": ("accuracy",),
    "regression": (),
    "ranking": (),  # a ranking's fairness is exposure across groups, which fairlearn's rates do not measure
}

# Ranking metrics, each averaged over the groups (queries) of the held-out rows; written alone
# (`mrr`: over each group's whole list) or with a cutoff (`ndcg@10`: the top 10 of each group).
RANKING_METRICS = ("ndcg", "map", "mrr")
RANKING_METRIC_RE = re.compile(r"^(ndcg|map|mrr)(?:@(.*))?$")
MAX_RANKING_CUTOFF = 1000


def metric_task(metric: str) -> str | None:
    """The family of tasks a gate metric belongs to (`classification`, `regression`, `ranking`), or None."""
    if metric in CLASSIFICATION_METRICS:
        return "classification"
    if metric in REGRESSION_METRICS:
        return "regression"
    return "ranking" if RANKING_METRIC_RE.fullmatch(metric) else None


def ranking_cutoff_error(metric: str) -> str | None:
    """Why the cutoff of a ranking metric (`ndcg@k`) is not one, or None when it is one or absent."""
    cutoff = RANKING_METRIC_RE.fullmatch(metric).group(2)
    if cutoff is None:
        return None
    if not cutoff.isascii() or not cutoff.isdigit() or not 1 <= int(cutoff) <= MAX_RANKING_CUTOFF:
        return f"the cutoff k of `{metric}` must be a whole number from 1 to {MAX_RANKING_CUTOFF}"
    return None
GATE_RE = re.compile(r"^\s*(>=|<=|>|<)\s*(-?\d+(\.\d+)?)\s*$")


def _gate_condition(value: str) -> str:
    if not GATE_RE.fullmatch(value):
        raise PydanticCustomError("gate", "`{value}` is not a gate: write a comparison like `>= 0.85`",
                                  {"value": value})
    return value


# Validated per value (not on the whole mapping) so an error points at the one bad gate.
GateCondition = Annotated[str, AfterValidator(_gate_condition), Field(pattern=GATE_RE.pattern)]


def _empty_list() -> list:
    return []


def _empty_dict() -> dict:
    return {}


# pydantic reads each default factory's signature; a builtin's (`list`, `dict`) is parsed from
# its text signature by the tokenizer, whose first use compiles a large regular expression:
# 5% of the import floor on every cold run, for nothing a Python function would not say faster.
_FACTORIES = {list: _empty_list, dict: _empty_dict}


def F(description: str, *, examples: list | None = None, **kwargs) -> Any:
    """A field with the description (and example) an editor shows on hover."""
    if "default_factory" in kwargs:
        kwargs["default_factory"] = _FACTORIES.get(kwargs["default_factory"], kwargs["default_factory"])
    return Field(description=description, examples=examples, **kwargs)


class SpecModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        # Python attribute names are the YAML keys (camelCase) so errors and the schema
        # speak the user's language; the one keyword clash (`in`) carries an alias.
        populate_by_name=False,
        validate_default=False,
        # Build validators on first use: only the root model's is needed to validate a spec,
        # and building every nested model's own validator at import doubles start-up time.
        defer_build=True,
        # `.nan` and `.inf` are valid YAML floats but meaningless as bounds, thresholds or
        # resources, and would be written into generated configs as `nan`.
        allow_inf_nan=False,
    )


# --- metadata -----------------------------------------------------------------------------


class Metadata(SpecModel):
    name: SystemName = F(
        "Name of the ML system; a DNS-1123 label of at most 40 characters, because it prefixes"
        " generated Kubernetes resources, DAG ids and file names.", examples=["customer-churn"])
    owner: str | None = F("Team or person responsible (an email address or team name).",
                          examples=["growth-ml@example.com"], default=None)
    description: str | None = F("What the system does, in a sentence.", default=None,
                                examples=["Predict which customers churn in the next 30 days."])
    labels: dict[LabelKey, LabelValue] = F("Kubernetes labels copied onto generated resources.",
                               default_factory=dict, examples=[{"team": "growth"}])


# --- platform -----------------------------------------------------------------------------


class ObjectStore(SpecModel):
    endpoint: Url = F("S3-compatible endpoint (MinIO, S3).",
                      examples=["http://minio.minio.svc.cluster.local:9000"])
    credentialsSecret: DnsLabel = F(
        "Name of the Kubernetes Secret (and Airflow connection id) holding the access keys."
        " Credentials are never written in the spec.", examples=["minio-credentials"])
    region: RegionName | None = F("Region name, for S3 proper.", default=None, examples=["us-east-1"])


class GcsStore(SpecModel):
    credentialsSecret: DnsLabel = F(
        "Name of the Airflow connection (type google_cloud_platform: its `keyfile_dict` or `key_path` extra) and"
        " of the Kubernetes Secret (key `key.json`) holding the service-account key that reads and writes the"
        " spec's gs:// locations. Credentials are never written in the spec.", examples=["gcs-credentials"])
    endpoint: Url | None = F("GCS JSON API endpoint, when not Google's own (a private endpoint, an emulator).",
                             default=None, examples=["http://fake-gcs.storage.svc:4443"])


class AzureStore(SpecModel):
    account: AzureAccount = F("Storage account of the spec's abfs:// locations (`abfs://container/key`).",
                              examples=["mlspecdata"])
    credentialsSecret: DnsLabel = F(
        "Name of the Airflow connection (type wasb: login = account, password = account key, or a"
        " `connection_string` extra) and of the Kubernetes Secret (key `connection-string`) that reads and"
        " writes the spec's abfs:// locations. Credentials are never written in the spec.",
        examples=["azure-credentials"])
    endpoint: Url | None = F("Blob service endpoint, when not `https://<account>.blob.core.windows.net`"
                             " (Azurite, a private endpoint).", default=None,
                             examples=["http://azurite.storage.svc:10000/mlspecdata"])


class Mlflow(SpecModel):
    trackingUri: Url = F("MLflow tracking server URI.", examples=["http://mlflow.mlflow.svc.cluster.local:5000"])


class Lineage(SpecModel):
    url: Url = F("Marquez (OpenLineage) API URL.", examples=["http://marquez-api.marquez.svc.cluster.local:5000"])
    namespace: str = F("OpenLineage namespace for this system's jobs and datasets: one line without surrounding"
                       " spaces (it is written into an environment file).", examples=["customer-churn"])

    @field_validator("namespace")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\0") or value != value.strip() or not value:
            raise PydanticCustomError("lineage_namespace", "the OpenLineage namespace must be one line without"
                                      " surrounding spaces: it is written into an environment file", {})
        return value


class Prometheus(SpecModel):
    url: Url = F("Prometheus URL used by canary analysis.", examples=["http://prometheus.monitoring.svc:9090"])


class Kubeflow(SpecModel):
    host: Url = F("Kubeflow Pipelines API host the training DAGs submit to.",
                  examples=["http://ml-pipeline.kubeflow.svc.cluster.local:8888"])


class Deployments(SpecModel):
    repoURL: GitUrl = F("Git URL of the deployments repository Argo CD watches.", alias="repoURL",
                        examples=["https://github.com/myorg/ml-deployments"])
    revision: GitRevision = F("Branch or tag Argo CD tracks.", default="main", examples=["main"])
    path: RepoPath = F("Folder of the deployments repository under which each system gets its own folder: plain"
                       " folder names separated by `/`.", default="deployments", examples=["deployments"])


class FeastStore(SpecModel):
    provider: Literal["local", "gcp", "aws"] = F("Feast provider.", default="local", examples=["local"])
    registry: str = F("Feast registry path or URI (relative paths are relative to the feature repo).",
                      default="data/registry.db", examples=["s3://feast-registry/registry.db"])
    onlineStore: dict[str, Any] = F(
        "Feast `online_store` block, written as given (secrets only by reference, e.g. `${REDIS_PASSWORD}`).",
        default_factory=lambda: {"type": "sqlite", "path": "data/online_store.db"},
        examples=[{"type": "redis", "connection_string": "redis.feast.svc:6379"}])
    offlineStore: dict[str, Any] = F("Feast `offline_store` block, written as given.",
                                     default_factory=lambda: {"type": "file"}, examples=[{"type": "file"}])

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        from mlspec.spec.types import _no_dot_segments

        return _no_dot_segments(value)


# The databases a SQL source may read: the sqlglot dialect its queries are parsed in, the port
# its host is reached on by default, and how OpenLineage names its tables (spec/sql.py).
CONNECTION_TYPES = ("postgres", "mysql", "redshift", "snowflake", "bigquery", "trino", "oracle", "teradata")

HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?")
NAME_PART_RE = re.compile(r"[A-Za-z0-9_$-]{1,128}")


class Connection(SpecModel):
    type: Literal[CONNECTION_TYPES] = F(  # type: ignore[valid-type]
        "The database the Airflow connection reaches: the SQL dialect its sources' queries are parsed in, and how"
        " the lineage graph names the tables they read (OpenLineage's naming, https://openlineage.io/docs/spec/naming).",
        examples=["postgres"])
    host: str | None = F(
        "Where the database is, as OpenLineage names it: the host (postgres, mysql, trino, oracle, teradata), the"
        " `cluster-identifier.region` (redshift), the `organization-account` identifier (snowflake); not used by"
        " bigquery. Write what the Airflow connection reaches: at run time Airflow's OpenLineage provider names the"
        " tables from the connection itself, and Marquez joins the two only when the names agree.",
        default=None, examples=["warehouse.internal"])
    port: int | None = F("The port (default: the database's: 5432, 3306, 5439, 8080, 1521, 1025).", default=None,
                         ge=1, le=65535, examples=[5432])
    database: str | None = F(
        "The database a table named without one is in (BigQuery: the project id; Trino: the catalog; Oracle: the"
        " service name).", default=None, examples=["analytics"])
    schema_: str | None = F(
        "The schema a table named without one is in (BigQuery: the dataset). Default: `public` (postgres,"
        " redshift), `PUBLIC` (snowflake).", default=None, alias="schema", examples=["public"])
    tables: dict[str, list[Identifier]] = F(
        "The columns of tables the queries read, by table name as a query writes it (`orders`, `sales.orders`): a"
        " query of a source on this connection that reads a column its tables do not declare is an error (E315)."
        " Tables not listed are not checked.", default_factory=dict,
        examples=[{"customers": ["customer_id", "age", "signup_date"]}])

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not HOST_RE.fullmatch(value):
            raise PydanticCustomError("connection_host", "`{value}` is not a host name: letters, digits, `.`, `-`"
                                      " and `_` (no scheme, port or path)", {"value": value})
        return value

    @field_validator("tables")
    @classmethod
    def _table_names(cls, value: dict) -> dict:
        for name in value:
            parts = name.split(".")
            if len(parts) > 3 or not all(NAME_PART_RE.fullmatch(part) for part in parts):
                raise PydanticCustomError("connection_table", "`{value}` is not a table name: `table`,"
                                          " `schema.table` or `database.schema.table`", {"value": name})
        return value

    @field_validator("database", "schema_")
    @classmethod
    def _name_part(cls, value: str | None) -> str | None:
        if value is not None and not NAME_PART_RE.fullmatch(value):
            raise PydanticCustomError("connection_name", "`{value}` is not a database or schema name: letters,"
                                      " digits, `_`, `$` and `-`", {"value": value})
        return value


class Platform(SpecModel):
    objectStore: ObjectStore | None = F("Object store for datasets and artifacts.", default=None)
    gcs: GcsStore | None = F("Google Cloud Storage, for gs:// locations.", default=None)
    azure: AzureStore | None = F("Azure Blob Storage (ADLS Gen2), for abfs:// locations.", default=None)
    mlflow: Mlflow | None = F("MLflow tracking and registry.", default=None)
    lineage: Lineage | None = F("OpenLineage / Marquez.", default=None)
    prometheus: Prometheus | None = F("Prometheus, for SLO-gated rollouts.", default=None)
    kubeflow: Kubeflow | None = F("Kubeflow Pipelines API.", default=None)
    feast: FeastStore = F("Feast feature store configuration (`feature_store.yaml`); override it per"
                          " environment.", default_factory=FeastStore)
    deployments: Deployments | None = F("The GitOps deployments repository.", default=None)
    connections: dict[Identifier, Connection] = F(
        "The databases SQL sources read, by Airflow connection id (the sources' `connection`): what each is, so"
        " the compiler parses the queries in its dialect and names every table they read in the lineage graph.",
        default_factory=dict,
        examples=[{"warehouse": {"type": "postgres", "host": "warehouse.internal", "port": 5432,
                                 "database": "analytics", "schema": "public"}}])


# --- datasets -----------------------------------------------------------------------------


# scheme://authority/name, where the name is qualified (database.table at least), as
# OpenLineage names tables.
TABLE_URI_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s]*/([^\s/]+)")


def _table_uri(value: str) -> str:
    match = TABLE_URI_RE.fullmatch(value)
    if not match or len(match.group(1).split(".")) < 2 or "" in match.group(1).split("."):
        raise PydanticCustomError(
            "table_uri", "`{value}` is not a table's OpenLineage URI: write `scheme://host:port/database.schema.table`,"
            " e.g. `postgres://warehouse.internal:5432/analytics.public.customers`", {"value": value})
    return value


TableUri = Annotated[str, AfterValidator(_table_uri),
                     Field(examples=["postgres://warehouse.internal:5432/analytics.public.customers"])]


class SqlSource(SpecModel):
    sql: str = F("Query that extracts the dataset.", examples=["SELECT * FROM customers"])
    connection: Identifier = F("Airflow connection id of the database (a reference, never credentials).",
                               examples=["warehouse"])
    tables: list[TableUri] = F(
        "Not needed when `platform.connections` describes the connection: the tables are then read from the query"
        " (FROM, JOIN, subqueries, WITH, UNION). Otherwise the tables the query reads, each as its OpenLineage dataset"
        " URI (https://openlineage.io/docs/spec/naming): `postgres://host:port/database.schema.table`,"
        " `mysql://host:port/database.table`, `snowflake://org-account/database.schema.table`; they must be exactly"
        " the tables the query reads (E314). The lineage graph (`mlspec lineage emit`) and the ingestion DAG name the"
        " dataset's source so. Without either the source is left out of the lineage.",
        default_factory=list, examples=[["postgres://warehouse.internal:5432/analytics.public.customers"]])


class CsvOptions(SpecModel):
    delimiter: str = F("The character between fields (`,`, `;`, a tab).", default=",", examples=[";"])
    header: bool = F("Whether the first line of each file names the columns. Without one, the columns are the"
                     " dataset's `columns`, in the order written.", default=True)
    encoding: str = F("The text encoding of the files, as Python names it (`utf-8`, `latin-1`, `cp1252`).",
                      default="utf-8", examples=["latin-1"])

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n\"":
            raise PydanticCustomError("csv_delimiter", "`{value}` is not a delimiter: one character, not a line break"
                                      " or `\"`", {"value": value})
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            info = codecs.lookup(value)
        except LookupError:
            info = None
        if info is None or not getattr(info, "_is_text_encoding", True):
            raise PydanticCustomError("csv_encoding", "`{value}` is not a text encoding Python knows (`utf-8`,"
                                      " `latin-1`, `cp1252`, ...)", {"value": value})
        return value


class JsonOptions(SpecModel):
    lines: bool = F("`true`: JSON Lines, one object per line (`.jsonl`, `.ndjson`); `false`: one JSON document"
                    " per file, an array of objects. Stated, never guessed from the file name.", default=False,
                    examples=[True])


class FileSource(SpecModel):
    uri: SourceUri = F(
        "Files to read: an s3://, gs:// or abfs:// object or a local path (file:// or absolute). A folder (ending in `/`) reads"
        " every file of the format under it; a wildcard (`*`, `?`, `[...]`, in the key or path, not the bucket)"
        " reads every file it matches. Other schemes (http://, az://, ...) are refused: the generated tasks"
        " cannot read them.", examples=["s3://landing/activity/*.parquet"])
    format: Literal["parquet", "csv", "json"] = F("File format.", default="parquet", examples=["parquet"])
    csv: CsvOptions | None = F("How CSV files are written (format `csv` only); the defaults are `,`, a header line"
                               " and UTF-8.", default=None, examples=[{"delimiter": ";", "encoding": "latin-1"}])
    json_: JsonOptions | None = F("Whether JSON files are JSON Lines (format `json` only); the default is one JSON"
                                  " document (an array of objects) per file.", alias="json", default=None,
                                  examples=[{"lines": True}])

    @model_validator(mode="after")
    def _options_of_the_format(self) -> "FileSource":
        for name, value in (("csv", self.csv), ("json", self.json_)):
            if value is not None and self.format != name:
                raise PydanticCustomError("format_options", "`{name}` describes {name} files; this source's format is"
                                          " `{format}`", {"name": name, "format": self.format})
        return self


def _source_kind(value: Any) -> str:
    # Choose the branch from the keys written, so errors speak of one shape, not both.
    if isinstance(value, dict):
        return "sql-source" if ("sql" in value or "connection" in value) else "file-source"
    return "sql-source" if isinstance(value, SqlSource) else "file-source"


DatasetSource = Annotated[Union[Annotated[SqlSource, Tag("sql-source")], Annotated[FileSource, Tag("file-source")]],
                          Discriminator(_source_kind)]


NUMERIC_COLUMN_TYPES = ("int8", "int16", "int32", "int64", "float32", "float64")


def timestamp_value(value: Any) -> datetime.datetime | None:
    """An ISO 8601 date or date-time written as a string (YAML dates stay strings), else None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _fits_column(column_type: str, value: Any) -> bool:
    """Whether `value` is a value of a column of `column_type` (for bounds and value sets)."""
    if column_type.startswith("int"):
        return isinstance(value, int) and not isinstance(value, bool)
    if column_type.startswith("float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if column_type == "bool":
        return isinstance(value, bool)
    if column_type == "timestamp":
        return timestamp_value(value) is not None
    return isinstance(value, str)  # string, bytes


_WHAT_FITS = {"bool": "true or false", "timestamp": "an ISO 8601 date or time such as `2024-01-31` or"
              " `2024-01-31T12:00:00Z`", "string": "a string", "bytes": "a string"}


def _what_fits(column_type: str) -> str:
    if column_type.startswith("int"):
        return "a whole number"
    if column_type.startswith("float"):
        return "a number"
    return _WHAT_FITS[column_type]


class Column(SpecModel):
    type: ColumnType = F("Column type; mapped once to Feast, Great Expectations, pandas and OpenLineage.",
                         examples=["int64"])
    nullable: bool = F("Whether nulls are allowed.", default=True)
    unique: bool = F("Whether values must be unique.", default=False)
    min: float | str | None = F("Smallest allowed value: a number, or an ISO 8601 date or time for a timestamp"
                                " column.", default=None, examples=[18])
    max: float | str | None = F("Largest allowed value: a number, or an ISO 8601 date or time for a timestamp"
                                " column.", default=None, examples=[120])
    in_: list[str | int | float | bool] | None = F("Allowed values, each of the column's type.", alias="in",
                                                    default=None, examples=[[0, 1]])
    description: str | None = F("What the column means (shown beside its results in GX's data docs).", default=None,
                                examples=["Total purchase amount in EUR over the last 90 days."])

    @field_validator("min", "max", mode="before")
    @classmethod
    def _bound_of_the_columns_type(cls, value: Any, info) -> Any:
        column_type = info.data.get("type")
        if value is None or column_type is None or column_type in ("string", "bool", "bytes"):
            return value  # no type to compare with, or refused as a whole by _bounds
        if not _fits_column(column_type, value) and not (column_type.startswith("int")
                                                          and isinstance(value, float) and value.is_integer()):
            raise PydanticCustomError("bounds", "`{field}` of this {type} column must be {fits}, found `{value}`",
                                      {"field": info.field_name, "type": column_type,
                                       "fits": _what_fits(column_type), "value": _shown(value)})
        return value

    @field_validator("in_", mode="after")
    @classmethod
    def _values_of_the_columns_type(cls, values: list | None, info) -> list | None:
        column_type = info.data.get("type")
        if values is None or column_type is None:
            return values
        for index, value in enumerate(values):
            if not _fits_column(column_type, value):
                raise PydanticCustomError(
                    "bounds", "value {index} of `in` must be {fits}, as the column is {type}; found `{value}`",
                    {"index": index + 1, "type": column_type, "fits": _what_fits(column_type), "value": _shown(value)})
        return values

    @model_validator(mode="after")
    def _bounds(self) -> "Column":
        if (self.min is not None or self.max is not None) and self.type in ("string", "bool", "bytes"):
            raise PydanticCustomError("bounds", "`min`/`max` apply to numeric and timestamp columns, not {type}",
                                      {"type": self.type})
        low, high = (self.min, self.max) if self.type != "timestamp" else (timestamp_value(self.min), timestamp_value(self.max))
        if low is not None and high is not None and low > high:
            raise PydanticCustomError("bounds", "`min` ({min}) is greater than `max` ({max})",
                                      {"min": _shown(self.min), "max": _shown(self.max)})
        return self


def _shown(value: Any) -> str:
    """A value the way YAML writes it: `true`, `0.5`, `2024-01-01`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


class Expectation(SpecModel):
    expect: str = F("Great Expectations expectation name without the `expect_` prefix.",
                    examples=["table_row_count_to_be_between"])
    column: str | None = F("Column the expectation applies to (column expectations only; a column of the dataset).",
                           default=None, examples=["age"])
    min: float | str | None = F("Lower bound (`min_value`): a number, or an ISO 8601 date or time when the column is"
                                " a timestamp.", default=None, examples=[0, "2024-01-01"])
    max: float | str | None = F("Upper bound (`max_value`): a number, or an ISO 8601 date or time when the column is"
                                " a timestamp.", default=None, examples=[100, "2030-12-31T23:59:59Z"])
    value: int | None = F("Exact value (`value`), for `table_row_count_to_equal` and `table_column_count_to_equal`.",
                          default=None, ge=0, examples=[12])
    values: list[str | int | float | bool] | None = F(
        "Value set (`value_set`); for `table_columns_to_match_set`, the column names (`column_set`).", default=None)
    regex: str | None = F("Regular expression (`regex`), for the `*_match_regex` expectations.", default=None,
                          examples=["^[A-Z]{2}$"])
    mostly: float | None = F("Fraction of rows that must pass (0-1).", default=None, ge=0, le=1)


class DvcVersioning(SpecModel):
    remote: str = F("DVC remote URL: s3:// (MinIO/S3), gs:// or abfs://.", examples=["s3://dvc-storage"])

    @field_validator("remote")
    @classmethod
    def _remote(cls, value: str) -> str:
        from mlspec.spec.types import _object_uri

        return _object_uri(value)


class Versioning(SpecModel):
    dvc: DvcVersioning = F("Version the dataset with DVC.")


class Dataset(SpecModel):
    source: DatasetSource | None = F(
        "Where the data comes from: `{sql, connection}` for a database, `{uri, format}` for files.",
        default=None)
    storage: ObjectUri | None = F(
        "Root of the dataset's validated Parquet copy (s3://, gs://, abfs:// or a local path). Each ingestion run writes its own"
        " Hive-style partition under it, `ds=YYYY-MM-DD/part-0.parquet` (`part-HHMMSS.parquet` for a schedule"
        " that runs more than once a day), and a re-run replaces only its own; every reader (Feast, training"
        " labels, the drift reference) reads the partitions under the root.", default=None,
        examples=["s3://raw-data/customers.parquet"])
    schedule: Schedule | None = F("How often the ingestion DAG runs (cron or preset).", default=None)
    retries: int = F("How often a failed ingestion task (extract, validate, version, upload) is retried, five"
                     " minutes apart.", default=0, ge=0, le=10, examples=[2])
    versioning: Versioning | None = F("How the dataset is versioned.", default=None)
    columns: dict[Identifier, Column] = F("Typed columns: the basis of suites, Feast fields and lineage.",
                                          default_factory=dict)
    expectations: list[Expectation] = F("Extra Great Expectations rules beyond what columns imply.",
                                        default_factory=list)
    description: str | None = F("What the dataset holds (shown in the GX suite and the lineage graph).", default=None,
                                examples=["One row per customer, refreshed daily from the CRM."])


# --- features -----------------------------------------------------------------------------


class Entity(SpecModel):
    joinKeys: list[Identifier] = F("Columns that identify the entity: columns of every feature view source keyed by"
                                   " it, and of the label dataset of every model reading such a view.", min_length=1,
                                   examples=[["customer_id"]])
    description: str | None = F("What the entity is (Feast's entity description).", default=None,
                                examples=["A customer of the web shop."])


class FeatureView(SpecModel):
    entities: list[str] = F("Entities (by name) the features are keyed by: the view's rows are looked up by the join"
                            " keys of all of them (the source must have each key as a column).", min_length=1,
                            examples=[["customer"]])
    source: str = F("Dataset (by name) the features are read from.", examples=["customer_activity"])
    timestampField: Identifier = F("Event-time column of the source dataset.", examples=["event_timestamp"])
    ttl: Duration = F("How long a feature value stays valid.", examples=["1d"])
    online: bool = F("Materialize into Feast's online store. A served model may read only online views (E409);"
                     " `false` keeps a view for training only.", default=True)
    features: dict[Identifier, ColumnType] = F("Feature names and types (each a column of the source).",
                                               min_length=1, examples=[{"total_purchases": "float32"}])
    description: str | None = F("What the features describe (Feast's feature view description).", default=None,
                                examples=["Purchase activity per customer."])


# --- models -------------------------------------------------------------------------------


class SecretKeyRef(SpecModel):
    name: DnsLabel = F("Kubernetes Secret name.", examples=["mlflow-credentials"])
    key: str = F("Key inside the Secret.", examples=["token"])


class SecretEnv(SpecModel):
    secretKeyRef: SecretKeyRef = F("Take the value from a Kubernetes Secret.")


def _env_kind(value: Any) -> str:
    return "secret-ref" if isinstance(value, (dict, SecretEnv)) else "plain-value"


EnvValue = Annotated[Union[Annotated[str, Tag("plain-value")], Annotated[SecretEnv, Tag("secret-ref")]],
                     Discriminator(_env_kind)]


class Resources(SpecModel):
    cpu: Quantity | None = F("CPU request (and limit), a Kubernetes quantity.", default=None, examples=["500m"])
    memory: Quantity | None = F("Memory request (and limit), a Kubernetes quantity.", default=None,
                                examples=["1Gi"])
    gpu: int | None = F("Number of GPUs.", default=None, ge=0, examples=[1])


class Training(SpecModel):
    estimator: str = F("Dotted path of a scikit-learn compatible estimator class.",
                       examples=["sklearn.ensemble.RandomForestClassifier"])
    params: dict[Identifier, str | int | float | bool | None] = F(
        "Keyword arguments for the estimator.", default_factory=dict, examples=[{"n_estimators": 100}])
    image: str = F("Container image the training steps run in.", default="python:3.11-slim",
                   examples=["ghcr.io/myorg/churn-train:1.4.0"])
    packages: list[PackageRequirement] = F(
        "Extra pip packages installed in each step: PEP 508 names with extras and version specifiers"
        " (no URLs, markers or pip options).", default_factory=list, examples=[["scikit-learn==1.6.1"]])
    resources: Resources | None = F("Resources of the training step.", default=None)
    retries: int = F(
        "How often a failed step of the Kubeflow pipeline is retried inside the run (KFP `set_retry` on each"
        " step; the evaluation and fairness gates are not retried: a failed gate fails again). Airflow does not"
        " resubmit a run that failed (see `submitRetries`), so retries do not multiply.",
        default=0, ge=0, le=10)
    submitRetries: int = F(
        "How often Airflow retries the training DAG's submit task when the pipeline could not be submitted"
        " (Kubeflow unreachable, the run not created). A run that was submitted and failed fails the task"
        " without a retry: its steps were already retried `retries` times inside the run.",
        default=0, ge=0, le=10)
    schedule: Schedule | None = F(
        "The cron expression or preset the training DAG runs on, when `triggers` holds `schedule` (it does by"
        " default once a schedule is set).", default=None)
    triggers: list[Literal["schedule", "data", "drift"]] | None = F(
        "What starts the training DAG, any combination: `schedule` (on `schedule`), `data` (when every"
        " ingested dataset it reads, the label dataset and the features' sources, has landed again: Airflow"
        " assets) and `drift` (the drift DAG, `monitoring.drift.onDrift: retrain`). By default: `schedule` when"
        " a schedule is set, else `data`, and `drift` when drift retrains; a model with a schedule is then not"
        " retrained on every landing of its data as well (list both to have that). It can always be started"
        " by hand.", default=None, examples=[["schedule", "drift"]])
    env: dict[Identifier, EnvValue] = F(
        "Environment variables of the training steps; secrets by `secretKeyRef` only.",
        default_factory=dict, examples=[{"LOG_LEVEL": "info"}])

    @field_validator("estimator")
    @classmethod
    def _dotted(cls, value: str) -> str:
        parts = value.split(".")
        if len(parts) < 2 or not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) for p in parts):
            raise PydanticCustomError(
                "estimator", "`{value}` is not a dotted class path like `sklearn.ensemble.RandomForestClassifier`",
                {"value": value})
        return value


class Split(SpecModel):
    method: Literal["random", "time"] = F(
        "`random` holds out a random (stratified, for classification) share of the rows; `time` holds out the"
        " latest rows by `column`, so the model is evaluated on a period after the one it was trained on (no"
        " future rows leak into training, as a forecast needs). A ranking model holds out whole groups (`group`):"
        " a random share of them, or the groups that start last.", default="random")
    test: float = F("Fraction of rows held out for evaluation.", default=0.2, gt=0, lt=1)
    seed: int = F("Random seed of a random split.", default=42)
    column: Identifier | None = F(
        "For `method: time`: the timestamp column of the label dataset that orders the rows; the rows from the"
        " cut-off time on (the latest `test` share) are held out.", default=None, examples=["event_timestamp"])

    @model_validator(mode="after")
    def _method(self) -> "Split":
        if self.method == "time" and self.column is None:
            raise PydanticCustomError("split_column", "a time split needs `column`: the label dataset's timestamp"
                                      " column that orders the rows", {})
        if self.method == "random" and self.column is not None:
            raise PydanticCustomError("exclusive", "`column` orders a time split: set `method: time`, or remove"
                                      " `column`", {})
        if self.method == "time" and "seed" in self.model_fields_set:
            raise PydanticCustomError("exclusive", "a time split is not random: remove `seed`", {})
        return self


class Fairness(SpecModel):
    sensitive: list[Identifier] = F("Sensitive attribute columns (of the label's dataset).", min_length=1,
                                    examples=[["age_group"]])
    metric: Literal["selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"] = F(
        "Metric compared across groups (with fairlearn's MetricFrame). The rates of the positive class need a binary"
        " model: a multiclass model compares `accuracy` (E403).", default="selection_rate")
    maxDisparity: float = F("Largest allowed difference of the metric between groups.", ge=0, le=1,
                            examples=[0.1])


class Evaluation(SpecModel):
    split: Split = F("How the data is split.", default_factory=Split)
    gates: dict[str, GateCondition] = F(
        "Metric thresholds the model must pass to be registered, e.g. `accuracy: \">= 0.85\"`.",
        default_factory=dict, examples=[{"accuracy": ">= 0.85", "roc_auc": ">= 0.80"}])
    fairness: Fairness | None = F("Fairness gate.", default=None)
    primaryMetric: str | None = F(
        "The metric a new version must beat the current alias holder (`registry.alias`, the champion) on, both"
        " measured on this run's held-out rows, to take the alias; otherwise it is registered without the alias"
        " and the run says why (lower is better for `log_loss`, `rmse`, `mae` and `mape`; a tie keeps the"
        " champion). Defaults to the first gate's metric, else `roc_auc` (binary), `accuracy` (multiclass), `rmse`"
        " (regression) or `ndcg` (ranking). The first version, with no champion, takes the alias.",
        default=None, examples=["roc_auc"])


class Registry(SpecModel):
    name: str = F("Registered model name in MLflow.", examples=["ChurnModel"])
    alias: str = F("Alias set on a version that passed the gates (MLflow aliases, not stages).",
                   default="champion", examples=["champion"])

    @field_validator("name", "alias")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", value):
            raise PydanticCustomError("registry_name", "`{value}` must be letters, digits, `_`, `.` or `-`",
                                      {"value": value})
        return value


class ReplicaBounds(SpecModel):
    min: int = F("Minimum replicas (0 allows scale to zero).", default=1, ge=0, le=1000)
    max: int = F("Maximum replicas.", default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> "ReplicaBounds":
        if self.min > self.max:
            raise PydanticCustomError("bounds", "replicas `min` ({min}) is greater than `max` ({max})",
                                      {"min": self.min, "max": self.max})
        return self


SERVING_FORMATS = ("mlflow", "sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "tensorflow", "triton", "custom")


class Serving(SpecModel):
    format: Literal["mlflow", "sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "tensorflow", "triton", "custom"] = F(
        "Model format KServe serves.", default="mlflow")
    runtime: str | None = F("KServe ServingRuntime name, when the format has no built-in runtime.",
                            default=None, examples=["kserve-mlserver"])
    modelFormat: str | None = F(
        "For `format: custom`: the InferenceService's `modelFormat.name`, the format your ServingRuntime lists"
        " under `supportedModelFormats` (KServe matches them). Defaults to the model's name. The training"
        " pipeline logs such a model as an MLflow (scikit-learn) model.", default=None, examples=["my-format"])
    storageUri: StorageUri | None = F(
        "Folder holding the model (for MLflow: the folder with `MLmodel`). Set by `mlspec promote`.",
        default=None, examples=["s3://mlflow-artifacts/1/abc123/artifacts/model"])
    modelVersion: ModelVersion | None = F("Registered model version being served. Set by `mlspec promote`.",
                                          default=None, examples=["7"])
    replicas: ReplicaBounds = F("Replica bounds.", default_factory=lambda: ReplicaBounds())
    resources: Resources | None = F("Resources of the predictor.", default=None)
    serviceAccount: DnsLabel | None = F("Kubernetes service account of the predictor, with access to the model storage.",
                                        default=None, examples=["kserve-s3"])
    mode: Literal["knative", "standard"] = F(
        "KServe deployment mode (the `serving.kserve.io/deploymentMode` annotation, `Knative` or `Standard`; KServe"
        " 0.16 renamed `Serverless` and `RawDeployment` to these). `knative`: Knative Services, a canary is"
        " `predictor.canaryTrafficPercent` and Knative keeps the previous revision. `standard`: plain Deployments"
        " behind a Gateway API HTTPRoute, a canary is a named `spec.canary` predictor (KServe 0.20) beside the stable"
        " predictor (`rollout.stable`).", default="knative")

    @field_validator("modelFormat")
    @classmethod
    def _model_format(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", value):
            raise PydanticCustomError("model_format", "`{value}` is not a model format name: letters, digits, `.`,"
                                      " `_` or `-`, at most 63 characters", {"value": value})
        return value

    @model_validator(mode="after")
    def _custom_format(self) -> "Serving":
        if self.modelFormat is not None and self.format != "custom":
            raise PydanticCustomError("exclusive", "`modelFormat` names the format of a custom runtime; format"
                                      " `{format}` is its own model format name", {"format": self.format})
        return self


class StableVersion(SpecModel):
    storageUri: StorageUri = F("Folder holding the stable model (for MLflow: the folder with `MLmodel`).",
                               examples=["s3://mlflow-artifacts/1/abc123/artifacts/model"])
    modelVersion: ModelVersion | None = F("Registered model version of the stable model.", default=None,
                                          examples=["6"])


class Rollout(SpecModel):
    backend: Literal["kserve-analysis", "iter8"] = F(
        "Canary backend: `kserve-analysis` (KServe canary plus Argo Rollouts analysis, maintained) or `iter8`"
        " (Iter8 v2alpha2 Experiment and Metrics, the last Experiment API Iter8 released: no released Iter8 acts on"
        " it, so every compile warns, W411).", default="kserve-analysis")
    canaryTrafficPercent: int = F("Share of traffic the new version receives during the canary.",
                                  ge=0, le=100, examples=[10])
    slo: str = F("SLO (by name, under `slos`) the canary must meet.", examples=["churn-api"])
    phase: Literal["canary", "promoted", "rolledBack"] = F(
        "Where the rollout of `serving.modelVersion` stands: `canary` splits traffic and runs the SLO analysis,"
        " `promoted` sends all traffic to it, `rolledBack` sends all traffic to the previous version."
        " Set by `mlspec promote` and `mlspec rollback`.", default="canary")
    stable: StableVersion | None = F(
        "`serving.mode: standard` only: the version that keeps serving as the stable predictor while"
        " `serving.modelVersion` is in canary (`spec.canary`), and that a rollback returns to. Set by `mlspec promote`"
        " when it starts a canary after a promoted version; without it the first version serves alone.",
        default=None)


class DriftEmail(SpecModel):
    to: list[Annotated[str, Field(pattern=r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")]] = F(
        "Addresses the alert is sent to.", min_length=1, examples=[["ml-oncall@example.com"]])
    connection: str | None = F(
        "Airflow connection of the SMTP server; defaults to Airflow's `[email] email_conn_id` (`smtp_default`).",
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,250}$", examples=["smtp_default"])


class DriftAlert(SpecModel):
    email: DriftEmail = F("Send the alert by e-mail (Airflow's SMTP provider, `SmtpNotifier`).")


class Drift(SpecModel):
    schedule: Schedule = F("How often drift is checked.", default="@hourly")
    window: Duration = F("How much recent prediction log is compared with the training data.",
                         default="24h")
    maxDriftShare: float = F("Share of drifted columns above which the model is retrained.", gt=0, le=1,
                             examples=[0.3])
    onDrift: Literal["retrain", "alert"] = F(
        "What happens on drift: `retrain` triggers the training DAG (see `training.triggers`); `alert` fails the"
        " drift DAG's `alert_drift` task, so Airflow's failure alerts fire, and notifies `alert` if set.",
        default="retrain")
    alert: DriftAlert | None = F(
        "For `onDrift: alert`: where the alert goes, an Airflow notifier called when the `alert_drift` task fails"
        " on drift. Without it only the task fails.", default=None)
    predictions: str | None = F(
        "Dataset (by name) holding the prediction log; defaults to the requests and responses the"
        " InferenceService's logger writes to the object store (KServe's JSON objects), which the drift DAG"
        " reads from the last environment's namespace.", default=None, examples=["churn_predictions"])
    loggerUrl: Url | None = F(
        "HTTP(S) endpoint that receives the InferenceService's logged requests and responses as CloudEvents"
        " instead of the object store; the drift DAG then reads the dataset that endpoint fills (`predictions`).",
        default=None, examples=["http://prediction-sink.monitoring.svc.cluster.local"])

    @model_validator(mode="after")
    def _alert(self) -> "Drift":
        if self.alert is not None and self.onDrift != "alert":
            raise PydanticCustomError("exclusive", "`alert` says where a drift alert goes: set `onDrift: alert`, or"
                                      " remove `alert`", {})
        return self


class Monitoring(SpecModel):
    drift: Drift | None = F("Data drift monitoring with Evidently.", default=None)


class EthicalConsideration(SpecModel):
    name: str = F("The risk.", examples=["Age bias"])
    mitigation: str = F("How it is mitigated.", examples=["Balanced training data across age groups."])


class Card(SpecModel):
    overview: str | None = F("What the model does.", default=None,
                             examples=["Predicts churn probability per customer from purchase activity."])
    useCases: list[str] = F("Intended uses.", default_factory=list)
    users: list[str] = F("Intended users.", default_factory=list)
    limitations: list[str] = F("Known limitations.", default_factory=list)
    tradeoffs: list[str] = F("Trade-offs made.", default_factory=list)
    ethicalConsiderations: list[EthicalConsideration] = F("Ethical risks and their mitigations.",
                                                          default_factory=list)
    references: list[str] = F("Links to further reading.", default_factory=list)
    license: str | None = F("License of the model.", default=None, examples=["Apache-2.0"])


class Model(SpecModel):
    task: Literal["binary_classification", "multiclass_classification", "regression", "ranking"] = F(
        "Kind of prediction. `ranking` orders the rows of each group (`group`) by relevance, the label being a"
        " whole-number relevance grade (0 irrelevant; 1 and more relevant: a click, a purchase); it is gated on"
        " `ndcg@k`, `map@k` and `mrr` averaged over the groups.", examples=["binary_classification"])
    features: list[str] = F("Features as `view.feature` (or `view.*` for all of a view). A served model reads online"
                            " views only; the label dataset must have the join keys of every view read.", min_length=1,
                            examples=[["customer_features.total_purchases"]])
    label: str = F("Label as `dataset.column`. The dataset needs `storage`, a timestamp column and the join keys of"
                   " the views the model reads (the features are joined to it point in time).",
                   examples=["customers.churn"])
    group: Identifier | None = F(
        "For `task: ranking` only (and required there): the column of the label's dataset whose value groups the"
        " rows that are ranked together, a query or a session. The training step sorts the rows by it and hands"
        " the ranker each group's size, the held-out split holds out whole groups, and the ranking metrics are"
        " measured per group and averaged.", default=None, examples=["session_id"])
    labelTimestamp: Identifier | None = F(
        "The timestamp column of the label's dataset at which each label is observed: the point-in-time join"
        " reads every feature as it was then. Needed only when that dataset has several timestamp columns and"
        " none of them is named like the timestamp field of a view the model reads (otherwise that one, or the"
        " only one, is taken).", default=None, examples=["event_timestamp"])
    training: Training = F("How the model is trained.")
    evaluation: Evaluation = F("Evaluation and gates.", default_factory=Evaluation)
    registry: Registry | None = F("Where the model is registered.", default=None)
    serving: Serving | None = F("How the model is served with KServe.", default=None)
    rollout: Rollout | None = F("Canary rollout gated on an SLO.", default=None)
    monitoring: Monitoring | None = F("Production monitoring.", default=None)
    card: Card | None = F("Model card contents.", default=None)
    description: str | None = F("What the model predicts (the training DAG's and the model card's description).",
                                default=None, examples=["Probability that a customer churns within 30 days."])


# --- SLOs, environments, deploy ---------------------------------------------------------------


class Limit(SpecModel):
    max: float = F("Upper limit.", ge=0)


class RateLimit(SpecModel):
    # Its own model (not a validator on Limit) so the JSON Schema carries the bound too.
    max: float = F("Upper limit, a fraction between 0 and 1 (0.01 is 1%).", ge=0, le=1, examples=[0.01])


class SloQueries(SpecModel):
    errorRate: str | None = F(
        "PromQL for the error rate; `{{selector}}` and `{{window}}` are filled in. One sample per revision: keep"
        " `revision_name` (`sum by (revision_name) (...)`), in `serving.mode: standard` `destination_workload`."
        " See the reference's SLO query placeholders.", default=None,
        examples=['sum by (revision_name) (rate(revision_app_request_count{response_code_class="5xx", {{selector}}}'
                  '[{{window}}])) / sum by (revision_name) (rate(revision_app_request_count{ {{selector}} }'
                  '[{{window}}]))'])
    latencyP95Ms: str | None = F(
        "PromQL for p95 latency in ms; `{{selector}}` and `{{window}}` are filled in. One sample per revision: keep"
        " `revision_name` (`sum by (revision_name, le) (...)`), in `serving.mode: standard` `destination_workload`.",
        default=None,
        examples=["histogram_quantile(0.95, sum by (revision_name, le) (rate(revision_app_request_latencies_bucket"
                  "{ {{selector}} }[{{window}}])))"])


class Slo(SpecModel):
    errorRate: RateLimit | None = F("Maximum share of 5xx responses (0-1).", default=None,
                                    examples=[{"max": 0.01}])
    latencyP95Ms: Limit | None = F("Maximum p95 latency in milliseconds.", default=None, examples=[{"max": 100}])
    minRequests: int = F("Requests needed before the SLO is judged.", default=100, ge=0)
    interval: Duration = F("How often the SLO is measured.", default="10s")
    iterations: int = F("How many measurements the canary must pass.", default=10, ge=1, le=1000)
    queries: SloQueries | None = F("Override the default Prometheus queries.", default=None)


class Environment(SpecModel):
    namespace: DnsLabel = F("Kubernetes namespace the models are deployed to.", examples=["models"])
    cluster: Url | None = F("API server URL of the destination cluster (Argo CD `destination.server`).",
                            default=None, examples=["https://kubernetes.default.svc"])
    clusterName: str | None = F("Argo CD cluster name (`destination.name`, instead of `cluster`).", default=None,
                                examples=["prod-eu"])
    overrides: dict[str, Any] = F(
        "Values deep-merged over the base spec in this environment; keys are dotted paths.",
        default_factory=dict, examples=[{"models.churn.serving.replicas.max": 1}])

    @model_validator(mode="after")
    def _one_destination(self) -> "Environment":
        if self.cluster and self.clusterName:
            raise PydanticCustomError("destination", "set `cluster` or `clusterName`, not both", {})
        return self


class Automated(SpecModel):
    prune: bool = F("Delete resources that are no longer in git.", default=True)
    selfHeal: bool = F("Revert changes made outside git.", default=True)


class ArgoCd(SpecModel):
    project: str = F("Argo CD project.", default="default")
    namespace: DnsLabel = F("Namespace Argo CD runs in (where Applications live).", default="argocd")
    automated: Automated | None = F("Automatic sync; omit for manual sync.", default=None)


class SpecRepo(SpecModel):
    repoURL: GitUrl = F("Git URL of the repository holding this spec (the in-cluster jobs clone it, commit the"
                        " spec changes they decide and push them).", alias="repoURL",
                        examples=["https://github.com/myorg/ml-specs"])
    revision: GitRevision = F("Branch the spec changes are committed to.", default="main", examples=["main"])


class OperatorWebhook(SpecModel):
    hmacSecret: DnsLabel = F("Kubernetes Secret (key `secret`) holding the HMAC secret MLflow signs webhooks with.",
                         default="mlspec-webhook", examples=["mlspec-webhook"])
    mlflowNamespace: DnsLabel = F("Namespace MLflow runs in: the only one the NetworkPolicy lets reach the webhook.",
                                  default="mlflow", examples=["mlflow"])


class OperatorDecide(SpecModel):
    schedule: CronJobSchedule = F("How often the decision job reads each canary's analysis: the schedule of a"
                                  " Kubernetes CronJob (five cron fields, or a descriptor such as `@hourly`).",
                           default="*/5 * * * *", examples=["*/5 * * * *"])


class Operator(SpecModel):
    image: ImageRef | None = F("The mlspec image the webhook and the decision jobs run (built from mlspec's"
                               " Dockerfile and pushed), pinned by the digest the push printed: these pods hold the"
                               " git credentials, so a tag alone is refused (E313) [required].",
                               default=None,
                               examples=["ghcr.io/myorg/mlspec:0.1.0@sha256:"
                                         "055f3687fb337442b139b45d75a3f8bbb5526a8665120eb1da7b4b78633a04a5"])
    specRepo: SpecRepo = F("The git repository of this spec.")
    gitCredentialsSecret: DnsLabel = F(
        "Kubernetes Secret with a `.git-credentials` file (git's `store` helper format) for the spec and deployments"
        " repositories.", default="mlspec-git-credentials", examples=["mlspec-git-credentials"])
    webhook: OperatorWebhook = F("The MLflow webhook receiver.", default_factory=OperatorWebhook)
    decide: OperatorDecide = F("The canary decision job (`mlspec rollout decide`).", default_factory=OperatorDecide)


class Deploy(SpecModel):
    argocd: ArgoCd | None = F("Argo CD Applications, one per environment.", default=None)
    promotion: Literal["direct", "kargo"] = F(
        "How a published version reaches each environment. `direct`: each environment's Argo CD Application"
        " watches its folder on the deployments repository's branch, so `mlspec publish` deploys everywhere at"
        " once. `kargo`: a Kargo (v1.11) Project, Warehouse and one Stage per environment, in the order"
        " `environments` lists them; a commit of the deployments repository (the Freight) goes live in an"
        " environment only after it passed the previous environment's SLO analysis (manifests under `kargo/`)."
        " Needs `deploy.argocd`, at least one environment and every served model's rollout on `kserve-analysis`;"
        " set it here or the same under every environment.", default="direct", examples=["kargo"])
    operator: Operator | None = F("Run mlspec in the cluster, in each environment: the MLflow webhook and a decision"
                                  " job per canary (manifests under `k8s/<env>/`).", default=None)


class MLSystemSpec(SpecModel):
    """One ML system: its data, features, models, SLOs and deployment."""

    model_config = ConfigDict(title="mlspec MLSystem", json_schema_extra={"$id": "https://mlspec.dev/schema/mlspec.schema.json"})

    apiVersion: Literal["mlspec/v1alpha1"] = F("Spec language version.", examples=[API_VERSION])
    kind: Literal["MLSystem"] = F("Kind of spec.", examples=[KIND])
    metadata: Metadata = F("Name and ownership.")
    platform: Platform = F("Where shared services live.", default_factory=Platform)
    datasets: dict[Identifier, Dataset] = F("Datasets by name.", default_factory=dict)
    entities: dict[Identifier, Entity] = F("Feature entities by name.", default_factory=dict)
    featureViews: dict[Identifier, FeatureView] = F("Feature views by name.", default_factory=dict)
    models: dict[ResourceName, Model] = F("Models by name.", default_factory=dict)
    slos: dict[DnsLabel, Slo] = F("Service level objectives by name.", default_factory=dict)
    environments: dict[DnsLabel, Environment] = F("Deployment environments by name.", default_factory=dict)
    deploy: Deploy | None = F("How deployments are synced.", default=None)


def label_timestamp_choice(timestamp_columns: list[str], view_fields: set[str], written: str | None) -> list[str]:
    """The label dataset's timestamp columns the point-in-time join may stand on, best first:
    the one the model names (`labelTimestamp`), else those named like the timestamp field of a
    view the model reads, else every timestamp column. One entry: no doubt; several: the spec
    must say (check/references.py); none: the dataset has no timestamp column."""
    if written is not None:
        return [written]
    preferred = [c for c in timestamp_columns if c in view_fields]
    return preferred or list(timestamp_columns)


def training_triggers(model: Model) -> list[str]:
    """What starts a model's training DAG: `training.triggers` as written, or the default
    (`schedule` when a schedule is set, else `data`; `drift` when drift monitoring retrains)."""
    if model.training.triggers is not None:
        return list(dict.fromkeys(model.training.triggers))
    drift = model.monitoring.drift if model.monitoring else None
    return (["schedule"] if model.training.schedule else ["data"]) + (
        ["drift"] if drift is not None and drift.onDrift == "retrain" else [])


def primary_metric(model: Model) -> str:
    """What a new version is compared with the champion on (`evaluation.primaryMetric`, or its default)."""
    evaluation = model.evaluation
    return evaluation.primaryMetric or next(iter(evaluation.gates), None) or DEFAULT_PRIMARY_METRIC[model.task]
