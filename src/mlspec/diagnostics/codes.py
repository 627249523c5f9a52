"""Every diagnostic code mlspec reports, defined once: severity, stage and a short doc.

`mlspec codes` lists them and `mlspec codes E201` prints one (as `ruff rule` does). A code
is a family of related problems (E204 is any unknown or misplaced column), so one code may
have several messages; the doc says what they have in common and how to fix them.
tests/unit/diagnostics/test_codes.py keeps this table and the code honest: each code used in
the source is defined here once, each code defined here is used, and each has a doc.

Stages, in the order a spec goes through them: load (reading and parsing the YAML),
validate (the spec's shape and value types), check (references and rules across
sections), overlay (environments), generate (what a target can express), build (across
spec files), usage (the command line names something the spec lacks: exit 2), internal
(the installation or the machine failed, not the spec: exit 3).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    id: str
    severity: Severity
    stage: str
    summary: str
    doc: str


STAGES = ("load", "validate", "check", "overlay", "generate", "build", "usage", "internal")

_E, _W = Severity.ERROR, Severity.WARNING

_TABLE = (
    # --- load: bytes -> YAML -> plain data -------------------------------------------------
    Code("E000", _E, "load", "the file cannot be read",
         "The spec file could not be opened or read (missing, no permission, an I/O error). A link, a FIFO or another\n"
         "file that is not a regular file is E012."),
    Code("E001", _E, "load", "YAML syntax error",
         "The file is not valid YAML. The caret points where the parser stopped; for an unclosed quote, bracket or\n"
         "brace it points where it was opened. Quote values that contain `: ` or start with a YAML indicator."),
    Code("E002", _E, "load", "tab character in indentation",
         "YAML indents with spaces only. Replace the tab characters with spaces."),
    Code("E003", _E, "load", "duplicate key",
         "A key appears twice in one mapping. YAML loaders silently keep one of them; mlspec refuses the file so\n"
         "that the value you see is the value that counts."),
    Code("E004", _E, "load", "file too large",
         "Spec files are limited to 16 MiB (a spec of a thousand models is about 2 MB). Split the system."),
    Code("E005", _E, "load", "not UTF-8 text",
         "The file is not valid UTF-8, or a string holds half of a UTF-16 surrogate pair. Save the file as UTF-8\n"
         "and write characters themselves (or escape them whole as `\\UXXXXXXXX`)."),
    Code("E006", _E, "load", "more than one YAML document",
         "A spec file holds one MLSystem. Remove the `---` separator and move the second document to its own file."),
    Code("E007", _E, "load", "empty file",
         "The file holds no YAML document. `mlspec init NAME` writes a starter spec."),
    Code("E008", _E, "load", "the top level is not a mapping",
         "A spec is a mapping that starts with `apiVersion: mlspec/v1alpha1` and `kind: MLSystem`."),
    Code("E009", _E, "load", "the document expands or nests too far",
         "Aliases expand to more than a million values or more than 64 MiB of text (a long string and thousands\n"
         "of aliases to it), refer to themselves, or the document nests deeper than 64 levels. Such documents are\n"
         "refused before anything is built (a \"billion laughs\" defence)."),
    Code("E010", _E, "load", "unsupported YAML tag",
         "Specs use plain YAML values. Tags such as `!!python/object` or custom `!tags` are refused."),
    Code("E011", _E, "load", "a mapping key that is not a string",
         "Mapping keys must be plain strings, not lists or mappings."),
    Code("E012", _E, "load", "the spec is not a regular file",
         "The path names a symbolic link, a FIFO, a device or another special file. mlspec reads only regular\n"
         "files and never follows a link: a link committed in place of a spec could make it print another file\n"
         "(credentials, /proc/self/environ) in its diagnostics, and a FIFO or /dev/zero would hang it. Name the\n"
         "spec file itself."),
    Code("E013", _E, "load", "the spec's file name cannot be written into generated files",
         "The file name (or a folder above it) holds a control character (a line break, an escape) or bytes that\n"
         "are not UTF-8. Every generated file names its spec in a comment, where a line break would start a line\n"
         "of code in a generated DAG; rename the file."),
    # --- validate: the shape of the spec ----------------------------------------------------
    Code("E100", _E, "validate", "invalid value",
         "A value does not fit its field for a reason not covered by a more specific code."),
    Code("E101", _E, "validate", "unknown key",
         "The key is not part of the spec language at this place. The help names the closest known key; the JSON\n"
         "Schema (`schema/mlspec.schema.json`) lists them all, and editors complete them."),
    Code("E102", _E, "validate", "missing required key",
         "A required key is missing, e.g. `metadata.name`, a model's `task`, or an expectation's `column`."),
    Code("E103", _E, "validate", "wrong type",
         "The value has the wrong type: a string where a number is expected, a list where a mapping is expected..."),
    Code("E104", _E, "validate", "value not allowed",
         "The field takes one of a fixed set of values; the help names the closest one."),
    Code("E105", _E, "validate", "missing or unsupported apiVersion",
         "Write `apiVersion: mlspec/v1alpha1` at the top of the file."),
    Code("E106", _E, "validate", "missing or unsupported kind",
         "Write `kind: MLSystem` at the top of the file."),
    Code("E107", _E, "validate", "malformed name, URL, duration, schedule or quantity",
         "The value breaks the rule of its type: Kubernetes names (DNS-1123 labels, at most 63 characters; system\n"
         "and model names at most 40), identifiers, durations (`10s`, `24h`), cron schedules and presets, Kubernetes\n"
         "quantities (`500m`, `1Gi`), URLs and object URIs. The message states the rule; the help may offer a fix."),
    Code("E108", _E, "validate", "value out of range",
         "A number is outside the range its field allows (e.g. `canaryTrafficPercent` over 100, a share over 1), or\n"
         "is not finite."),
    Code("E109", _E, "validate", "too short or too long",
         "A list or mapping has too few entries (a feature view needs at least one feature), or a string is too long."),
    Code("E110", _E, "validate", "keys that exclude each other",
         "Two keys were set where only one may be: `cluster` and `clusterName` of an environment, a `column` on a\n"
         "table expectation, or an argument an expectation does not take (`min` on `table_row_count_to_equal`, which\n"
         "takes `value`): Great Expectations refuses a whole suite when one expectation has an argument its class\n"
         "does not declare."),
    Code("E111", _E, "validate", "contradicting bounds",
         "`min` is greater than `max`, or bounds are set on a column type they cannot apply to (string, bool, bytes),\n"
         "or bounds and value sets do not have the column's type."),
    Code("E112", _E, "validate", "a data location the generated tasks cannot read or write",
         "A file source, a dataset's storage or a DVC remote uses a scheme the generated tasks do not handle. They\n"
         "read and write s3:// (S3 or MinIO, through boto3), gs:// (Google Cloud Storage, through gcsfs), abfs://\n"
         "(Azure Blob Storage or ADLS Gen2, through adlfs: `abfs://container/key`, the account in\n"
         "`platform.azure.account`), file:// and absolute paths. Other schemes (adlfs's alias az://, wasbs://, hdfs://,\n"
         "http://) are refused rather than handed to a task that would take them for a local path: write az:// as\n"
         "abfs://, copy other data to one of the stores above, or mount it and give the path. Feast keeps its registry\n"
         "on a file, s3://, gs://, hdfs:// or a SQL database only, so `platform.feast.registry` on abfs:// (or az://)\n"
         "is refused too.\n"
         "A location (also the Feast registry) with a `..` or `.` segment, or a bucket named so, is refused too: it\n"
         "names a place above the folder it seems to name (`mlspec run --local` maps buckets into its work folder)."),
    # --- check: references and rules across sections ------------------------------------------
    Code("E201", _E, "check", "unknown dataset",
         "A reference names a dataset that is not defined under `datasets`. The help names the closest ones."),
    Code("E202", _E, "check", "unknown entity",
         "A feature view names an entity that is not defined under `entities`."),
    Code("E203", _E, "check", "unknown feature view or malformed feature reference",
         "Model features are written `view.feature` or `view.*`, and the view must be defined under `featureViews`."),
    Code("E204", _E, "check", "unknown column or feature",
         "A column (label, timestamp field, join key, sensitive attribute, expectation column) or feature is not\n"
         "defined in the dataset or feature view it is looked up in."),
    Code("E205", _E, "check", "unknown expectation",
         "The expectation is not one of the Great Expectations 1.x expectations mlspec can express."),
    Code("E206", _E, "check", "a column of the wrong type for its use",
         "A feature's declared type differs from its source column's type, a timestamp field or time split column\n"
         "is not a timestamp, a ranking model's label is not a whole-number relevance grade (an integer or bool\n"
         "column), or its group column is not an id (an integer or string column other than the label)."),
    Code("E207", _E, "check", "unknown SLO",
         "A rollout names an SLO that is not defined under `slos`."),
    Code("E208", _E, "check", "names that collide",
         "Two names derive the same generated name (`a-b` and `a_b` both become `a_b` in Python), or differ only in\n"
         "case where file systems and registries may confuse them."),
    Code("E209", _E, "check", "derived Kubernetes name too long",
         "An InferenceService name (`<system>-<model>`) must leave room for Knative's `-predictor-00001` suffix. In\n"
         "KServe Standard mode a rollout's predictors are Deployments named `<system>-<model>-v<modelVersion>-predictor`,\n"
         "which must fit a DNS label (63 characters) too."),
    Code("E210", _E, "build", "the same system in two spec files",
         "Each spec file compiles into `generated/<metadata.name>/`, so two files may not share a `metadata.name`."),
    Code("W211", _W, "check", "a feature view no model reads",
         "Every feature view is applied to Feast and materialized into the online store, whether a model reads it\n"
         "or not. A view no model names in its `features` is work for nothing, and usually a mistake: a model reads\n"
         "another view than meant, or the view was left behind. Read it in a model (`view.*` or `view.feature`), or\n"
         "remove it. (Not reported for a spec without models: a feature store of its own.)"),
    Code("E212", _E, "check", "a label whose timestamp column is not clear",
         "The training step joins every feature to the label point in time: each feature as it was when the label\n"
         "was observed. That moment is a timestamp column of the label's dataset: the one the model names with\n"
         "`labelTimestamp`, else the one named like the timestamp field of a view the model reads, else the only\n"
         "one. When the dataset has several and none of these rules picks one, say which: a wrong choice trains\n"
         "on features from the future (a leak) or from too far back, and nothing else would show it."),
    Code("E301", _E, "check", "a secret written inline",
         "Specs are committed to git, so secrets are references: a Kubernetes Secret name (`credentialsSecret`), a\n"
         "`{secretKeyRef: {name, key}}`, an Airflow connection id, or a `${ENV_VAR}` placeholder. A password, token\n"
         "or key written as a value, or credentials inside a URL or connection string (an Azure `AccountKey=`, a SAS\n"
         "token's `sig=`), are refused."),
    Code("E311", _E, "check", "a template expression in a SQL source that Airflow would render",
         "Airflow renders the query of a SQL source as a Jinja template before the task runs, with every\n"
         "connection (`{{ conn.<id>.password }}`), Variable (`{{ var.value.<name> }}`), macro and the task itself in\n"
         "scope. A query may use only the run's date and interval variables the README lists, each written bare:\n"
         "`{{ ds }}`, `{{ ds_nodash }}`, `{{ ts }}`, `{{ ts_nodash }}`, `{{ ts_nodash_with_tz }}`, `{{ logical_date }}`,\n"
         "`{{ data_interval_start }}`, `{{ data_interval_end }}`. Any other name, attribute, filter, call or\n"
         "`{% statement %}` is refused, and so is a query Jinja cannot parse."),
    Code("E312", _E, "check", "a SQL source that is not one SELECT reading tables",
         "The query of a SQL source is one SELECT statement (WITH clauses and UNION, INTERSECT or EXCEPT of\n"
         "SELECTs allowed) that only reads tables. Refused: a second statement, DDL or DML (also inside a WITH or\n"
         "as `SELECT ... INTO`), COPY, PRAGMA, ATTACH, SET, INSTALL, LOAD, `FOR UPDATE`, a table function in FROM\n"
         "(`read_text(...)`, `read_csv(...)`, `generate_series(...)`), a file named as a table, functions that read\n"
         "files (`pg_read_file`, `load_file`, `read_*`...), and a query the parser cannot read. It is parsed with\n"
         "sqlglot in the dialect of the source's connection (its `type` under `platform.connections`), else of the\n"
         "database the source's `tables` name (postgres://, mysql://, snowflake://...), else a generic dialect, with\n"
         "the date variables rendered as Airflow renders them."),
    Code("E313", _E, "check", "an in-cluster image not pinned by digest",
         "The webhook and the decision jobs of `deploy.operator` hold the git credentials that push to the spec and\n"
         "deployments repositories, so the image they run is named by its digest: `registry/mlspec:0.1.0@sha256:...`.\n"
         "A tag alone can be moved by whoever can push to the registry, and a node that already pulled it keeps\n"
         "the old one. Build mlspec's Dockerfile, push it, and write the digest the push printed (the README says how\n"
         "to bump it)."),
    Code("E314", _E, "check", "a SQL source's `tables` that are not the tables its query reads",
         "The lineage graph names every table a SQL source's query reads (FROM, JOIN, subqueries, WITH, each side of\n"
         "a UNION; the names a WITH defines are not tables) as an input of the dataset's ingestion job, with\n"
         "OpenLineage's naming for the database (`postgres://host:port` and `database.schema.table`, ...). When the\n"
         "source's connection is described under `platform.connections` ({type, host, port, database, schema}),\n"
         "the names come from the query and `tables` is not needed; when `tables` is written anyway it must list\n"
         "exactly those tables. Without a described connection, `tables` names them, and each entry must end with\n"
         "the name of a table the query reads (`payments.transactions` matches\n"
         "`postgres://db:5432/payments.payments.transactions`), and every table the query reads must be listed.\n"
         "Also reported here: a table the query names without its database or schema when the connection names\n"
         "no default one, so it cannot be named."),
    Code("E315", _E, "check", "a SQL query that reads a column its tables do not declare",
         "`platform.connections.<id>.tables` may declare the columns of the tables the queries of that connection\n"
         "read. A query that reads a column none of its tables has is then an error, found before anything runs:\n"
         "the ingestion task would fail at run time. The query is read with sqlglot's scopes: `alias.column` is\n"
         "looked up in that alias's table, a column of a WITH or a subquery among its select list, an unqualified\n"
         "column in every table of its SELECT (and of the SELECTs around a correlated subquery), and names the\n"
         "SELECT defines (`AS total`) are not columns of a table. A query that reads a table that is not declared\n"
         "(or a subquery that selects `*` from one) is not checked where that table could hold the column."),
    Code("W316", _W, "check", "a SQL source on a connection that `platform.connections` does not describe",
         "The spec describes some of its connections under `platform.connections` (their database type, host and\n"
         "defaults), but a SQL source names another one: most often a typo of a described connection. The source\n"
         "then gets no dialect and no OpenLineage names from its query (only what its `tables` lists). Name a\n"
         "described connection, or describe this one too."),
    Code("W317", _W, "check", "a SQL query that filters on `data_interval_start`, which Airflow 3 sets to the run's own time",
         "Airflow 3 runs a DAG scheduled by a cron expression or preset on a `CronTriggerTimetable` (unless the\n"
         "deployment sets `[scheduler] create_cron_data_intervals`): a run's data interval has no length, so\n"
         "`data_interval_start`, `data_interval_end` and `logical_date` are all the moment the run was due, not the\n"
         "period before it as in Airflow 2. `ts >= '{{ data_interval_start }}' AND ts < '{{ data_interval_end }}'`\n"
         "then selects no row, and `ts >= '{{ data_interval_start }}'` only rows from the future. Filter on the day\n"
         "the run stands for instead (`{{ ds }}`, one run per day), or on a fixed window before\n"
         "`{{ data_interval_end }}`."),
    Code("E401", _E, "check", "unknown gate metric",
         "A gate (or `evaluation.primaryMetric`) names a metric the pipeline does not compute for this model's task."),
    Code("E402", _E, "validate", "malformed gate condition",
         "A gate is a comparison such as `\">= 0.85\"` or `\"<= 0.2\"`."),
    Code("E403", _E, "check", "a fairness gate the model's task cannot have",
         "Fairness gates compare classification metrics across groups, so regression and ranking models cannot have\n"
         "one (a ranking's fairness is a question of exposure, how high each group's items stand in the lists, which\n"
         "these rates do not measure). The rates of the positive class (`selection_rate`, the default,\n"
         "`true_positive_rate`, `false_positive_rate`) need a binary model; a multiclass model compares\n"
         "`metric: accuracy`."),
    Code("E404", _E, "check", "a rollout without serving",
         "A canary rollout needs the model to be served: add a `serving` section."),
    Code("E405", _E, "check", "custom serving format without a runtime",
         "`format: custom` has no built-in KServe runtime: name a ServingRuntime with `runtime`."),
    Code("E406", _E, "check", "an SLO that measures nothing",
         "An SLO that gates a canary must set `errorRate`, `latencyP95Ms`, or both."),
    Code("E407", _E, "check", "a custom SLO query that does not judge each revision",
         "A canary analysis judges every revision of the predictor on its own, so a query under `slos.*.queries`\n"
         "must select with `{{selector}}` and keep the `revision_name` label in its result, one sample per\n"
         "revision (e.g. `sum by (revision_name) (rate(...{ {{selector}} }[{{window}}]))`); for a model served in\n"
         "`serving.mode: standard` the label is the Deployment's, `destination_workload` (the mesh's series). A query\n"
         "summed over all revisions would let a canary taking a few percent of the traffic hide behind the stable one."),
    Code("E408", _E, "check", "a serving format the trained model cannot be logged in",
         "The training pipeline logs the model in the MLflow flavor its serving format needs: `mlflow` and `custom`\n"
         "as an MLflow (scikit-learn) model, `sklearn` as a pickle KServe's scikit-learn server loads (a\n"
         "`sklearn.` estimator only: that server has nothing else installed), `xgboost` and `lightgbm` as the booster\n"
         "file of an `xgboost.` or `lightgbm.` estimator (which cannot carry the one-hot encoding of string or bool\n"
         "features). The pipeline trains scikit-learn compatible estimators, so it cannot write `onnx`, `pytorch`,\n"
         "`tensorflow` or `triton` models. Choose a format that fits the estimator; `mlflow` fits every one."),
    Code("E409", _E, "check", "a served model reads features that are not materialized online",
         "A model with `serving` is answered online, so every feature view it reads must be materialized into\n"
         "Feast's online store. A view marked `online: false` is never materialized (the Feast DAG skips it), and\n"
         "the model would be served with empty features. Set `online: true` on the view (the default), or serve\n"
         "the model from features it is sent rather than from views it reads (drop the view from `features`)."),
    Code("E410", _E, "check", "a prediction log sent to an HTTP sink the drift check does not read",
         "With `monitoring.drift.loggerUrl` the InferenceService's logger sends its requests and responses to that\n"
         "endpoint instead of the object store, and the drift DAG reads the dataset the endpoint fills, named by\n"
         "`monitoring.drift.predictions`. Without that name the drift DAG would read a folder nothing writes, and\n"
         "never find drift. Name the dataset the sink fills, or drop `loggerUrl` to log to the object store."),
    Code("E411", _E, "check", "a canary KServe's deployment mode does not admit",
         "`serving.mode` picks the KServe deployment mode, written as the `serving.kserve.io/deploymentMode`\n"
         "annotation (`Knative` or `Standard`; `Serverless` and `RawDeployment` are their deprecated names since\n"
         "KServe 0.16), and the mode decides the canary's shape. Knative mode: `predictor.canaryTrafficPercent`, and\n"
         "Knative keeps the previous revision itself, so `rollout.stable` has no place there. Standard mode (KServe\n"
         "0.20): the new version is a named `spec.canary` predictor beside the stable predictor (`rollout.stable`),\n"
         "which KServe admits only with the annotation exactly `Standard` and a canary named unlike the stable\n"
         "predictor (both are named `v<modelVersion>`); `canaryTrafficPercent` does nothing there, so the `iter8`\n"
         "backend, which moves it, cannot drive it; and a rollback needs a `rollout.stable` to return to."),
    Code("E412", _E, "check", "a ranking metric with a cutoff that is not one",
         "A ranking gate metric is `ndcg`, `map` or `mrr`, alone (each group's whole list) or with a cutoff `@k`,\n"
         "the number of top-ranked rows of each group it looks at: a whole number from 1 to 1000, as in `ndcg@10`."),
    Code("E413", _E, "check", "a ranking model without a group, or a group on another task",
         "A ranking model orders the rows of each group (a query, a session) by relevance, so it names the column\n"
         "of its label's dataset that groups them with `group`: training sorts the rows by it and hands the ranker\n"
         "each group's size, the held-out split keeps whole groups, and the metrics are measured per group. `group`\n"
         "means nothing to other tasks, so there it is refused rather than ignored."),
    Code("E414", _E, "check", "an estimator that is not an estimator class of the training libraries",
         "`training.estimator` names the class the training pipeline calls with `params`, so it must be an estimator\n"
         "class of scikit-learn, LightGBM or XGBoost: a class (CapWords; `LGBM...`, `XGB...`) of a module that holds\n"
         "estimators (`sklearn.ensemble`, `sklearn.linear_model`, `sklearn.tree`, `sklearn.svm`, `sklearn.neighbors`,\n"
         "`sklearn.naive_bayes`, `sklearn.neural_network`, `sklearn.gaussian_process`, `sklearn.discriminant_analysis`,\n"
         "`sklearn.kernel_ridge`, `sklearn.isotonic`, `sklearn.dummy`, `lightgbm`, `xgboost`). Any other callable\n"
         "(`subprocess.Popen`, `os.system`) would run on the training machine with the spec's params; the train step\n"
         "checks again that what it imports is a scikit-learn estimator class before calling it."),
    Code("E415", _E, "check", "a label dataset the model's features cannot be joined to",
         "The training pipeline reads the label dataset from its `storage` and joins the model's features to it\n"
         "with Feast's point-in-time join: by the join keys of every entity of every feature view the model reads\n"
         "(so the label dataset must have each of those columns: a view keyed by `user` and one keyed by `item`\n"
         "need both `user_id` and `item_id` beside the label), and as of each label row's event time (a timestamp\n"
         "column; one named like the views' `timestampField` is preferred). Add the columns or the storage, or\n"
         "label the model from a dataset that has them."),
    Code("E416", _E, "check", "a feature view whose source Feast cannot read",
         "Feast reads a feature view's rows from a Parquet file: the source dataset's `storage` (the validated\n"
         "copy its ingestion writes) or, without storage, a `source: {uri: ....parquet, format: parquet}`. Set the\n"
         "dataset's `storage`."),
    Code("E417", _E, "check", "a training schedule that cannot be combined with assets",
         "A training DAG whose `training.triggers` hold both `schedule` and `data` runs on that schedule and when\n"
         "every ingested dataset it reads has landed again (Airflow 3's AssetOrTimeSchedule). `@once` and\n"
         "`@continuous` are not timetables and cannot be combined with assets: use a cron expression or a preset\n"
         "such as `@weekly`, or drop `data` from the triggers."),
    Code("E418", _E, "overlay", "an environment serves a model in a format of another flavor",
         "One training pipeline serves every environment, and it logs the model in the MLflow flavor the base\n"
         "spec's `serving.format` needs (`mlflow` and `custom`: scikit-learn; `sklearn`: a pickle; `xgboost`,\n"
         "`lightgbm`: a booster file). An environment that overrides the format to one needing another flavor would\n"
         "serve a model the pipeline never wrote. Serve the model in one format everywhere."),
    Code("E419", _E, "check", "a training trigger that cannot fire",
         "`training.triggers` says what starts a model's training DAG: `schedule` (needs `training.schedule`),\n"
         "`data` (needs a dataset the model reads that this spec ingests into `storage`, whose landing is an\n"
         "Airflow asset) and `drift` (needs `monitoring.drift` with `onDrift: retrain`; drift that retrains needs\n"
         "`drift` listed). The list is not empty and names each trigger once, and a `training.schedule` the\n"
         "triggers leave out is refused rather than ignored. Without `triggers`: `schedule` when a schedule is\n"
         "set, else `data`, plus `drift` when drift retrains."),
    Code("W410", _W, "check", "drift monitoring that reads a prediction log nothing writes",
         "Without `monitoring.drift.predictions`, the drift DAG reads the requests and responses the model's\n"
         "InferenceService logs to the object store in the last environment. A model without `serving`, or a spec\n"
         "without `environments` (nothing is deployed), logs nothing there, so its drift DAG reads an empty folder\n"
         "and never finds drift. Serve the model, or name the dataset that holds its predictions."),
    Code("W411", _W, "check", "a rollout on the legacy Iter8 backend",
         "`rollout.backend: iter8` writes `iter8.tools/v2alpha2` Experiments and Metrics, the last Experiment API\n"
         "Iter8 released; no controller has reconciled it since Iter8 0.8 (2021), so nothing splits the traffic or\n"
         "judges the canary, and `rollout decide` waits for a verdict that never comes. Iter8's last release, v1.1.2\n"
         "(2024-04), cannot take its place: its `release` chart moves KServe traffic between one InferenceService\n"
         "per version through an Istio VirtualService that its own controller keeps, with the weights you set by\n"
         "hand, and its HTTP/gRPC experiments only measure latency and errors for a Grafana dashboard; the task that\n"
         "judged them against limits (`assess`) was removed before v1.0 (iter8-tools/iter8#1565), so no v1.1 result\n"
         "says whether a version passed. Use `backend: kserve-analysis`: KServe's canary split and an Argo Rollouts\n"
         "AnalysisTemplate/AnalysisRun on the same SLO, which `rollout decide` reads."),
    Code("E501", _E, "check", "a platform service is missing",
         "A feature needs a platform service the spec does not configure: a rollout needs `platform.prometheus`, a\n"
         "registry needs `platform.mlflow`, s3:// storage needs `platform.objectStore`, a gs:// location (file\n"
         "source, storage, DVC remote, Feast registry) needs `platform.gcs` and an abfs:// one `platform.azure`\n"
         "(where their credentials are named), Argo CD needs `platform.deployments`. Drift monitoring keeps what no\n"
         "dataset holds in the `mlspec-monitoring` bucket of the S3 store, so a spec with `platform.gcs` or\n"
         "`platform.azure` needs `platform.objectStore` too when a served model's InferenceService logs its\n"
         "predictions there (KServe's blob-storage logger writes to S3 only; `loggerUrl` sends them to an HTTP\n"
         "sink instead), or a model reading features from several datasets has its training data snapshotted\n"
         "there as the drift reference."),
    Code("E502", _E, "check", "Argo CD without environments",
         "Argo CD Applications are generated per environment: define at least one under `environments`."),
    Code("E503", _E, "check", "Kargo promotion the spec cannot carry out",
         "`deploy.promotion: kargo` makes one Kargo Stage per environment, in the order of `environments`, each\n"
         "syncing its environment's Argo CD Application from a branch of the deployments repository. It needs at\n"
         "least one entry under `environments`, `deploy.argocd` (the Applications Kargo syncs) and\n"
         "`platform.deployments` with an https:// or ssh:// repoURL (the only ones Kargo's git subscription and\n"
         "git-clone step accept; pkg/subscription/schemas/git.json) that holds no `${{` (Kargo would evaluate it\n"
         "as an expression)."),
    Code("E504", _E, "check", "a Kargo Stage with nothing to verify a model with",
         "Kargo verifies each Stage with the SLO AnalysisTemplate mlspec writes for every served model, and lets a\n"
         "version move on only when that analysis succeeded. Only `rollout.backend: kserve-analysis` writes one: give\n"
         "every served model a rollout on that backend (the `iter8` backend writes Iter8 objects, which Kargo\n"
         "cannot run), or promote with `deploy.promotion: direct`."),
    # --- overlay: environments ------------------------------------------------------------------
    Code("E601", _E, "overlay", "an override of something the spec does not define",
         "An override's path names a key that is not in the base spec (often a misspelled model or section)."),
    Code("E602", _E, "overlay", "an override inside a value that is not a mapping",
         "An override path goes through a value that is a string, number or list."),
    Code("E603", _E, "overlay", "a setting that cannot differ per environment",
         "Environments override what feeds the files generated per environment: models' serving and rollout,\n"
         "slos, platform.prometheus, platform.feast, platform.deployments and deploy. Data, features, training and\n"
         "the services the shared DAGs and pipelines name (object store, MLflow, Kubeflow, lineage) are generated\n"
         "once for all environments, so overriding them per environment would be silently ignored."),
    Code("W604", _W, "overlay", "a base value every environment overrides",
         "Where environments are defined, what may differ per environment (serving replicas and resources, rollout\n"
         "settings, SLOs) feeds only the files generated per environment. A value of the base spec that every\n"
         "environment overrides therefore feeds no generated file (`mlspec explain` says so): editing it changes\n"
         "nothing, which misleads the next reader. Remove it from the base, or let one environment keep it."),
    Code("E604", _E, "usage", "unknown environment",
         "The environment named on the command line (`--env`) is not defined under `environments`."),
    Code("E605", _E, "overlay", "a setting that must be the same in every environment",
         "Some settings may be written under an environment's `overrides` but must end up the same in all of them:\n"
         "`deploy.promotion` decides whether a version moves through every environment in order (Kargo) or reaches\n"
         "each at once, which cannot hold for some environments only. Set it at the top level, or to the same value\n"
         "under every environment."),
    # --- generate: what a target can express ------------------------------------------------------
    Code("E701", _E, "generate", "a target cannot express part of the spec",
         "A target refuses to write something it cannot express correctly, rather than writing it wrong. The message\n"
         "names the target and the reason; the position points at the spec key concerned."),
    Code("W701", _W, "generate", "a target generated something with a caveat",
         "A target wrote its files but something needs attention (e.g. no `storageUri` yet, so no InferenceService)."),
    # --- internal: not the spec's fault ----------------------------------------------------------
    Code("E901", _E, "internal", "the output cannot be written",
         "Writing the generated tree failed (full disk, read-only folder, permissions). The previous tree is unchanged."),
    Code("E902", _E, "internal", "a template is missing",
         "A target's template was not found: check MLSPEC_TEMPLATES (a user template folder) or reinstall mlspec."),
)

CODES: dict[str, Code] = {code.id: code for code in _TABLE}


def get(code_id: str) -> Code:
    """The registered code; a KeyError is a bug (every reported code is defined above)."""
    return CODES[code_id]


def exit_code(code_ids) -> int:
    """The exit code for a set of error codes: 3 when the installation or the machine failed
    (internal), 2 when only the command line was wrong (usage), else 1."""
    stages = {CODES[c].stage for c in code_ids}
    if "internal" in stages:
        return 3
    if stages == {"usage"}:
        return 2
    return 1 if stages else 0


def is_internal(code_id: str) -> bool:
    """The installation or the machine failed us, not the spec (exit 3)."""
    code = CODES.get(code_id)
    return code is not None and code.stage == "internal"
