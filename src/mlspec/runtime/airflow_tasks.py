# This module is copied, from the marker line on, into every generated Airflow dags folder as
# `mlspec_runtime.py` (see mlspec.runtime): the DAG files load it by path when a task runs, and
# the generated dvc.yaml runs it as a script. So it must stand alone: standard library imports
# at the top, heavy ones inside the functions that need them, nothing from mlspec.
# mlspec-emit: always
"""Runtime helper of the DAGs mlspec generates: the task bodies.

The DAG files load this module by path when a task runs, so parsing a DAG imports none of
pandas, Great Expectations, Evidently, DVC, boto3 or kfp. It is listed in `.airflowignore`.
Every location a task reads or writes is a setting: an Airflow Variable (or the environment
variable AIRFLOW_VAR_<NAME IN UPPER CASE>) named in the DAG file's CONFIG, with the spec's
value as default. Object store credentials come from the Airflow connection named by the
spec's `credentialsSecret` (login = access key, password = secret key), else from the usual
AWS_* environment variables; they are never written in a file.

Also a command line, used by the generated `dvc.yaml`:
    python mlspec_runtime.py validate --suite SUITE.json --data DATA.parquet --report REPORT.json
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile

log = logging.getLogger("mlspec.runtime")


def run_step(step, config, dag_file, context):
    return STEPS[step](dict(config, dag_file=dag_file), context)


# --- settings ---------------------------------------------------------------------------------


def setting(config, name):
    key, default = config["settings"][name]
    value = os.environ.get("AIRFLOW_VAR_" + key.upper())
    if value is None:
        try:
            from airflow.sdk import Variable
        except ImportError:
            return default
        value = Variable.get(key, default=None)
    return default if value in (None, "") else value


def root(config):
    """The generated folder of the system: great_expectations/, dvc/, monitoring/, kfp/."""
    return setting(config, "root") or os.path.dirname(os.path.dirname(os.path.dirname(config["dag_file"])))


def staging_path(config, context):
    base = setting(config, "staging_dir") or os.path.join(tempfile.gettempdir(), "mlspec-staging")
    run = re.sub(r"[^A-Za-z0-9_.-]", "_", str(context["run_id"]))
    path = os.path.join(base, config["system"], config["dataset"], run, "data.parquet")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


# --- object store -----------------------------------------------------------------------------


def credentials(config):
    """AWS_* variables for boto3 and DVC: from the Airflow connection, else the environment."""
    creds = config.get("credentials") or {}
    env = {}
    region = creds.get("region")
    conn_id = creds.get("conn_id")
    if conn_id:
        connection = None
        try:
            from airflow.sdk import Connection

            connection = Connection.get(conn_id)
        except ImportError:
            pass
        except Exception as error:  # noqa: BLE001 - only "not found" is expected here
            if type(error).__name__ != "AirflowNotFoundException":
                raise
            log.info("no Airflow connection %r: using the AWS_* environment variables", conn_id)
        if connection is not None and connection.login:
            env["AWS_ACCESS_KEY_ID"] = connection.login
            env["AWS_SECRET_ACCESS_KEY"] = connection.password or ""
            region = region or (connection.extra_dejson or {}).get("region_name")
    env["AWS_DEFAULT_REGION"] = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return env


def s3_client(config):
    import boto3
    from botocore.config import Config

    creds = credentials(config)
    kwargs = {"region_name": creds["AWS_DEFAULT_REGION"], "config": Config(s3={"addressing_style": "path"})}
    if "AWS_ACCESS_KEY_ID" in creds:
        kwargs.update(aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"])
    endpoint = setting(config, "s3_endpoint")
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    return boto3.client("s3", **kwargs)


def _s3(uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


# gs:// and abfs:// go through fsspec (gcsfs, adlfs). Their credentials come from the Airflow
# connection named by the spec's `platform.gcs` / `platform.azure` credentialsSecret (a
# google_cloud_platform connection's `keyfile_dict` or `key_path` extra; a wasb connection's
# `connection_string` extra, or login = account and password = key), else from the
# environment (GOOGLE_APPLICATION_CREDENTIALS; AZURE_STORAGE_CONNECTION_STRING or
# AZURE_STORAGE_ACCOUNT_KEY). The endpoint settings point them at a private endpoint or an emulator.
CLOUD_SCHEMES = ("gs://", "abfs://")


def _optional_setting(config, name):
    return setting(config, name) if name in config["settings"] else None


def _connection(conn_id):
    """The Airflow connection `conn_id`, or None (no Airflow here, or no such connection)."""
    if not conn_id:
        return None
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    except ImportError:
        return None
    except Exception as error:  # noqa: BLE001 - only "not found" is expected here
        if type(error).__name__ != "AirflowNotFoundException":
            raise
        log.info("no Airflow connection %r: using the environment's credentials", conn_id)
        return None


def gcs_token(config):
    """gcsfs's `token`: the connection's service-account key (a dict or a file path), else None
    (Google's default credentials); "anon" against an endpoint of our own without a key."""
    creds = config.get("credentials") or {}
    connection = _connection(creds.get("gcs_conn_id"))
    extra = (connection.extra_dejson or {}) if connection is not None else {}
    keyfile = extra.get("keyfile_dict") or extra.get("extra__google_cloud_platform__keyfile_dict")
    if keyfile:
        return json.loads(keyfile) if isinstance(keyfile, str) else keyfile
    path = extra.get("key_path") or extra.get("extra__google_cloud_platform__key_path")
    if path:
        return path
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return os.environ["GOOGLE_APPLICATION_CREDENTIALS"]
    return "anon" if _optional_setting(config, "gcs_endpoint") else None


def azure_connection_string(config):
    """A connection string for the spec's storage account: the connection's own, else one built
    from its account key and the blob endpoint setting; else the environment's, else None."""
    creds = config.get("credentials") or {}
    account = creds.get("azure_account")
    connection = _connection(creds.get("azure_conn_id"))
    extra = (connection.extra_dejson or {}) if connection is not None else {}
    if extra.get("connection_string"):
        return extra["connection_string"]
    key = ((connection.password if connection is not None else None) or os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
           or os.environ.get("AZURE_STORAGE_KEY"))
    endpoint = _optional_setting(config, "azure_endpoint")
    if key:
        protocol = "http" if (endpoint or "").startswith("http://") else "https"
        return ";".join([f"DefaultEndpointsProtocol={protocol}", f"AccountName={account}", f"AccountKey={key}"]
                        + ([f"BlobEndpoint={endpoint}"] if endpoint else [])) + ";"
    return os.environ.get("AZURE_STORAGE_CONNECTION_STRING")


def cloud_fs(config, uri):
    """The fsspec filesystem of a gs:// or abfs:// location."""
    if uri.startswith("gs://"):
        endpoint = _optional_setting(config, "gcs_endpoint")
        if endpoint:
            # gcsfs's default class first asks Google's gRPC storage-control API for the bucket's
            # layout, which another endpoint does not serve (a minute's timeout per bucket): the
            # JSON API client alone.
            from gcsfs.core import GCSFileSystem
        else:
            from gcsfs import GCSFileSystem
        return GCSFileSystem(token=gcs_token(config), endpoint_url=endpoint, skip_instance_cache=True)
    import adlfs

    connection_string = azure_connection_string(config)
    if connection_string:
        return adlfs.AzureBlobFileSystem(connection_string=connection_string, skip_instance_cache=True)
    # No key anywhere: the account's default Azure credentials (a managed identity, az login).
    return adlfs.AzureBlobFileSystem(account_name=(config.get("credentials") or {}).get("azure_account"),
                                     anon=False, skip_instance_cache=True)


def _cloud(uri):
    scheme, _, path = uri.partition("://")
    return scheme + "://", path


def _mtime(info):
    import datetime

    for key in ("updated", "last_modified", "mtime", "timeCreated", "creation_time"):
        value = info.get(key)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        if isinstance(value, str) and value:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0


def _cloud_list(config, uri, wanted):
    fs = cloud_fs(config, uri)
    scheme, path = _cloud(uri)
    bucket, _, key = path.partition("/")
    wildcard = WILDCARD.search(key)

    def listing(prefix):
        # Every object whose key starts with `prefix` (an object-store prefix, not a folder).
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        try:
            found = fs.find(f"{bucket}/{folder}".rstrip("/"), detail=True)
        except FileNotFoundError:
            return []
        out = []
        for name, info in found.items():
            name = name.split("/", 1)[1] if "/" in name else ""
            if info.get("type") != "directory" and name.startswith(prefix) and not name.endswith("/"):
                out.append((name, _mtime(info)))
        return out

    if wildcard:
        pattern = _glob_regex(key)
        found = [(k, t) for k, t in listing(key[:wildcard.start()]) if pattern.fullmatch(k) and not _skipped(k)]
    elif key and not key.endswith("/"):
        found = [(k, t) for k, t in listing(key + "/") if wanted(k)]
        if not found and fs.isfile(f"{bucket}/{key}"):
            found = [(key, _mtime(fs.info(f"{bucket}/{key}")))]
    else:
        found = [(k, t) for k, t in listing(key) if wanted(k)]
    return [(f"{scheme}{bucket}/{k}", t) for k, t in sorted(found)]


def _local(uri):
    return uri[len("file://"):] if uri.startswith("file://") else uri


def file_format(path, default="parquet"):
    for suffix, fmt in ((".csv", "csv"), (".json", "json"), (".jsonl", "json"), (".parquet", "parquet")):
        if path.endswith(suffix):
            return fmt
    return default


# A wildcard in a file source's URI (`s3://landing/activity/*.parquet`): `*` and `?` match within
# one path segment, `**` across segments (`**/` also none), `[...]` a character class, as Python's
# glob.glob(recursive=True) does.
WILDCARD = re.compile(r"[*?\[]")


def _glob_regex(pattern):
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):  # any folders, none included (as glob.glob's recursive **)
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))


def _skipped(name):
    """Hidden files and markers (`.dvc`, `_SUCCESS`), as pyarrow's dataset discovery skips them."""
    return name.rsplit("/", 1)[-1].startswith((".", "_"))


def list_files(config, uri, suffixes=None):
    """[(uri, modified: epoch seconds)] of the files `uri` names, in name order: one object or file;
    every file under a prefix or folder (recursively; `suffixes` filters them); or every file a
    wildcard pattern matches. A key without a trailing `/` that has objects under it is a prefix
    (a partitioned dataset's root), else one object."""
    def wanted(name):
        return not _skipped(name) and (suffixes is None or name.endswith(tuple(suffixes)))

    if uri.startswith(CLOUD_SCHEMES):
        return _cloud_list(config, uri, wanted)
    if uri.startswith("s3://"):
        client = s3_client(config)
        bucket, key = _s3(uri)
        wildcard = WILDCARD.search(key)

        def listing(prefix):
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return [(o["Key"], o["LastModified"].timestamp()) for page in pages for o in page.get("Contents", [])]

        if wildcard:
            pattern = _glob_regex(key)
            found = [(k, t) for k, t in listing(key[:wildcard.start()])
                     if pattern.fullmatch(k) and not _skipped(k)]
        elif key and not key.endswith("/"):
            found = [(k, t) for k, t in listing(key + "/") if wanted(k)]
            if not found:
                try:
                    head = client.head_object(Bucket=bucket, Key=key)
                    found = [(key, head["LastModified"].timestamp())]
                except client.exceptions.ClientError as error:
                    if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                        raise
        else:
            found = [(k, t) for k, t in listing(key) if wanted(k)]
        return [(f"s3://{bucket}/{k}", t) for k, t in sorted(found)]
    path = _local(uri)
    if WILDCARD.search(path):
        import glob

        names = [p for p in glob.glob(path, recursive=True) if os.path.isfile(p) and not _skipped(p)]
    elif os.path.isdir(path):
        names = [os.path.join(folder, n) for folder, dirs, files in os.walk(path) for n in files
                 if not any(_skipped(d) for d in os.path.relpath(folder, path).split(os.sep) if d != ".")
                 and wanted(n)]
    elif os.path.isfile(path):
        names = [path]
    else:
        names = []
    return [(n, os.path.getmtime(n)) for n in sorted(names)]


def download(config, uri, workdir, index=0):
    """A local copy of one listed file (the file itself when it is local)."""
    if uri.startswith(CLOUD_SCHEMES):
        target = os.path.join(workdir, f"{index}-{uri.rsplit('/', 1)[-1]}")
        cloud_fs(config, uri).get_file(uri, target)
        return target
    if not uri.startswith("s3://"):
        return _local(uri)
    bucket, key = _s3(uri)
    target = os.path.join(workdir, f"{index}-{key.rsplit('/', 1)[-1]}")
    s3_client(config).download_file(bucket, key, target)
    return target


def fetch(config, uri, fmt, workdir):
    """Local files holding the data at `uri`: one object, every `fmt` file under a prefix or
    folder, or every file a wildcard matches (see list_files)."""
    listed = list_files(config, uri, ["." + fmt] + ([".jsonl", ".ndjson"] if fmt == "json" else []))
    if not listed:
        raise FileNotFoundError(f"no {fmt} files at {uri}")
    return [download(config, name, workdir, index) for index, (name, _) in enumerate(listed)]


def _reader(fmt, options=None, names=None, texts=None):
    """How to read one file of `fmt`. A spec's file source states its `options` (a CSV file's
    delimiter, header and encoding; whether JSON is JSON Lines); without them (files mlspec
    wrote itself) CSV is pandas' default and JSON Lines is told by the `.jsonl` suffix. `texts`:
    the columns read as text as written (a code `007` stays `007`, not the number 7)."""
    import pandas as pd

    dtype = {name: str for name in texts} if texts else None
    if fmt == "csv" and options is not None:
        header = options.get("header", True)
        return lambda p: pd.read_csv(p, sep=options.get("delimiter", ","), encoding=options.get("encoding", "utf-8"),
                                     header=0 if header else None, names=None if header else (names or None),
                                     dtype=dtype)
    if fmt == "json" and options is not None:
        # JSON has its own types: a string stays the string it is, a null stays null (`str` would make it "None")
        kept = {name: object for name in texts} if texts else True
        return lambda p: pd.read_json(p, lines=bool(options.get("lines", False)), dtype=kept)
    return {"parquet": pd.read_parquet, "csv": pd.read_csv,
            "json": lambda p: pd.read_json(p, lines=p.endswith(".jsonl"))}[fmt]


def read_frame(config, uri, fmt=None, options=None, names=None, texts=None):
    """Every file at `uri` (an object, a prefix, a wildcard) read as one frame; `names` are the
    columns of a CSV source without a header line, `texts` those read as text."""
    import pandas as pd

    fmt = fmt or file_format(uri.rstrip("/"))
    reader = _reader(fmt, options, names, texts)
    with tempfile.TemporaryDirectory() as workdir:
        frames = [reader(f) for f in fetch(config, uri, fmt, workdir)]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def put(config, path, uri):
    if uri.startswith(CLOUD_SCHEMES):
        cloud_fs(config, uri).put_file(path, uri)
    elif uri.startswith("s3://"):
        bucket, key = _s3(uri)
        s3_client(config).upload_file(path, bucket, key)
    else:
        target = _local(uri)
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        temporary = target + ".uploading"
        shutil.copyfile(path, temporary)
        os.replace(temporary, target)  # readers see the old file or the new one, never half of one


def remove_except(config, folder, keep):
    """Delete every file under `folder` (a prefix ending in `/`) but `keep`; returns what went."""
    removed = []
    if folder.startswith(CLOUD_SCHEMES):
        for name, _ in _cloud_list(config, folder, lambda name: True):
            if name != keep:
                cloud_fs(config, name).rm_file(name)
                removed.append(name)
        return removed
    if folder.startswith("s3://"):
        client = s3_client(config)
        bucket, key = _s3(folder)
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        for name in sorted(o["Key"] for page in pages for o in page.get("Contents", [])):
            if f"s3://{bucket}/{name}" != keep:
                client.delete_object(Bucket=bucket, Key=name)
                removed.append(f"s3://{bucket}/{name}")
        return removed
    path = _local(folder)
    for name in sorted(os.listdir(path)) if os.path.isdir(path) else []:
        full = os.path.join(path, name)
        if os.path.abspath(full) == os.path.abspath(_local(keep)):
            continue
        shutil.rmtree(full) if os.path.isdir(full) else os.remove(full)
        removed.append(full)
    return removed


# --- partitioned datasets -------------------------------------------------------------------------
# The layout (mlspec.ir.layout, "dataset partitions"): each ingestion run writes
# <root>/<column>=<logical date>/<file>; the DAG's CONFIG["partition"] carries its names.


def logical_time(context):
    """The run's logical date as an aware UTC datetime (a run without one: when it runs)."""
    import datetime

    when = None
    for key in ("logical_date", "data_interval_end", "run_after"):
        when = context.get(key)
        if when is not None:
            break
    if when is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if isinstance(when, str):
        when = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
    if when.tzinfo is None:
        return when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc)


def partition_of(config, context):
    """(folder, file) of this run's partition under the dataset's storage root."""
    layout = config["partition"]
    when = logical_time(context)
    folder = f"{setting(config, 'storage').rstrip('/')}/{layout['column']}={when.strftime(layout['date_format'])}/"
    return folder, layout["file"].format(time=when.strftime("%H%M%S"))


def _partition_value(name, column):
    """`.../ds=2026-01-02/part-0.parquet` -> `2026-01-02` (the innermost such folder), else None."""
    found = re.findall(rf"/{re.escape(column)}=([^/]+)/", "/" + name)
    return found[-1] if found else None


def read_dataset(config, root, column="ds", until=None):
    """A dataset's rows: every partition under `root` up to `until` (a partition value, the
    date it ends with, inclusive), or the single Parquet object or folder `root` names. A row
    that a newer partition repeats exactly (a table extracted whole on every run) counts once.
    The partition value is in the path, not added as a column."""
    import pandas as pd

    listed = list_files(config, root, [".parquet"])
    if not listed:
        raise FileNotFoundError(f"no parquet files at {root}")
    parts = [(_partition_value(name, column), name) for name, _ in listed]
    if until is not None:
        parts = [(value, name) for value, name in parts if value is None or value <= until]
    if not parts:
        raise FileNotFoundError(f"no partition of {root} up to {column}={until}")
    with tempfile.TemporaryDirectory() as workdir:
        by_value = {}
        for index, (value, name) in enumerate(parts):
            by_value.setdefault(value or "", []).append(pd.read_parquet(download(config, name, workdir, index)))
    frames, seen = [], None
    for value in sorted(by_value, reverse=True):  # newest partition first
        frame = pd.concat(by_value[value], ignore_index=True)
        try:
            hashes = pd.util.hash_pandas_object(frame, index=False)
        except TypeError:  # values pandas cannot hash (lists, mappings): keep every row
            frames.append(frame)
            continue
        if seen is not None:
            frame, hashes = frame[~hashes.isin(seen)], hashes[~hashes.isin(seen)]
        seen = hashes if seen is None else pd.concat([seen, hashes])
        frames.append(frame)
    frames.reverse()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


# --- ingestion ----------------------------------------------------------------------------------


def cast_columns(frame, columns):
    """Give each declared column the dtype its suite expects (numpy dtypes; an integer column
    with nulls stays float64, as pandas stores it). Undeclared columns are left alone."""
    import pandas as pd

    frame = frame.copy()
    for column in columns:
        name, kind = column["name"], column["type"]
        if name not in frame.columns:
            continue  # the suite's expect_column_to_exist reports it
        series = frame[name]
        try:
            if kind.startswith("int"):
                numbers = pd.to_numeric(series)
                frame[name] = numbers.astype("float64") if numbers.isna().any() else numbers.astype(kind)
            elif kind.startswith("float"):
                frame[name] = pd.to_numeric(series).astype(kind)
            elif kind == "bool":
                frame[name] = series.astype(object).where(series.notna(), None) if series.isna().any() \
                    else series.astype(bool)
            elif kind == "string":
                frame[name] = series.astype(object).map(lambda v: None if v is None or v is pd.NA or v != v else str(v))
            elif kind == "timestamp":
                frame[name] = pd.to_datetime(series, utc=True).dt.tz_localize(None).astype("datetime64[ns]")
        except (TypeError, ValueError) as error:
            raise ValueError(f"column {name!r} cannot be read as {kind}: {error}") from error
    return frame


# How a query of a SQL source reaches a DuckDB database: the file and nothing else. The DuckDB
# hook (airflow-provider-duckdb 0.2.0, DuckDBHook.get_conn) opens `duckdb.connect(host)` with
# DuckDB's defaults and reads no settings from the connection (its extras are a hidden field),
# so a query could read and write
# any file (`read_text('/etc/passwd')`, `COPY ... TO '~/.profile'`), ATTACH other databases and
# install or load extensions. This module opens DuckDB connections itself, read-only, with
# external access off, no extension installed or loaded, and the configuration locked, so the
# query cannot turn these back on (`SET enable_external_access = true` is refused).
DUCKDB_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


def query_frame(conn_id, sql):
    """The rows `sql` returns through the Airflow connection `conn_id`, as a DataFrame; a DuckDB
    connection (type `duckdb`, its host the database file) is opened contained (DUCKDB_CONFIG)."""
    from airflow.sdk import Connection

    connection = Connection.get(conn_id)
    if connection.conn_type == "duckdb" and not connection.password:  # with a password: MotherDuck, no file
        import duckdb

        database = connection.host or ":memory:"
        log.info("querying DuckDB database %s read-only, external access off, configuration locked", database)
        with duckdb.connect(database, read_only=database != ":memory:", config=dict(DUCKDB_CONFIG)) as db:
            return db.execute(sql).df()
    return connection.get_hook().get_df(sql, df_type="pandas")


def extract(config, context):
    source = config["source"]
    if source["kind"] == "sql":
        frame = query_frame(source["connection"], context["templates_dict"]["sql"])
    else:
        frame = read_frame(config, setting(config, "source_uri"), source["format"], source.get("options"),
                           [c["name"] for c in config["columns"]],
                           [c["name"] for c in config["columns"] if c["type"] == "string"])
    frame = cast_columns(frame, config["columns"])
    path = staging_path(config, context)
    frame.to_parquet(path, index=False)
    log.info("extracted %d rows of %s to %s", len(frame), config["dataset"], path)
    return {"rows": int(len(frame)), "path": path}


def validate_frame(suite, frame):
    """Run a Great Expectations 1.x suite (its JSON as a dict) on a DataFrame."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("mlspec").add_dataframe_asset(suite["name"])
             .add_batch_definition_whole_dataframe("all rows"))
    expectation_suite = context.suites.add(gx.ExpectationSuite(**suite))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite["name"], data=batch, suite=expectation_suite))
    result = definition.run(batch_parameters={"dataframe": frame})
    failed = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        details = item.result or {}
        failed.append({
            "expectation": config.type,
            "kwargs": {k: v for k, v in config.kwargs.items() if k != "batch_id"},
            "observed_value": details.get("observed_value"),
            "unexpected_count": details.get("unexpected_count"),
            "partial_unexpected_list": details.get("partial_unexpected_list"),
            "exception": (item.exception_info or {}).get("exception_message"),
        })
    return json.loads(json.dumps({"suite": suite["name"], "success": bool(result.success), "rows": int(len(frame)),
                                  "evaluated": len(result.results), "failed": failed}, default=str))


def _plain(value):
    """18.0 -> 18 (GX hands bounds and values back as floats), recursively in lists."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def failure_report(outcome):
    lines = [f"Great Expectations suite {outcome['suite']!r} failed {len(outcome['failed'])} of"
             f" {outcome['evaluated']} expectations on {outcome['rows']} rows:"]
    for failure in outcome["failed"]:
        arguments = ", ".join(f"{k}={_plain(v)!r}" for k, v in failure["kwargs"].items())
        if failure["unexpected_count"]:
            detail = f"{failure['unexpected_count']} unexpected value(s), e.g. {_plain(failure['partial_unexpected_list'])}"
        elif failure["exception"]:
            detail = f"error: {failure['exception']}"
        else:
            detail = f"observed {failure['observed_value']!r}"
        lines.append(f"  - {failure['expectation']}({arguments}): {detail}")
    return "\n".join(lines)


def validate(config, context):
    import pandas as pd

    frame = pd.read_parquet(staging_path(config, context))
    with open(os.path.join(root(config), config["suite"]), encoding="utf-8") as handle:
        suite = json.load(handle)
    outcome = validate_frame(suite, frame)
    if not outcome["success"]:
        raise ValueError(failure_report(outcome))
    log.info("suite %r passed: %d expectations on %d rows", outcome["suite"], outcome["evaluated"], outcome["rows"])
    return {"suite": outcome["suite"], "evaluated": outcome["evaluated"], "rows": outcome["rows"]}


def _dvc(args, repo, env):
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=env, capture_output=True,
                            text=True)
    log.info("dvc %s\n%s%s", " ".join(args), result.stdout, result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"`dvc {' '.join(args)}` failed in {repo}:\n{result.stderr or result.stdout}")
    return result.stdout


def version(config, context):
    """`dvc add` the validated Parquet in the DVC repository and `dvc push` it to the remote."""
    dvc = config["dvc"]
    repo = setting(config, "dvc_repo") or os.path.join(root(config), "dvc")
    os.makedirs(repo, exist_ok=True)
    env = dict(os.environ, **credentials(config))
    if not os.path.isdir(os.path.join(repo, ".dvc")):
        in_git = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=repo, capture_output=True,
                                text=True).returncode == 0
        # A folder the surrounding git work tree ignores is not tracked by it (DVC refuses to
        # init there: ".dvc is ignored by your SCM tool"), so it is a DVC repository of its own.
        if in_git and subprocess.run(["git", "check-ignore", "-q", os.path.abspath(repo)], cwd=repo,
                                     capture_output=True).returncode == 0:
            in_git = False
        _dvc(["init", "--subdir"] if in_git else ["init", "--no-scm"], repo, env)
    _dvc(["remote", "add", "--force", dvc["remote"], dvc["url"]], repo, env)
    url = dvc["url"]
    if url.startswith("s3://"):
        endpoint = setting(config, "s3_endpoint")
        if endpoint:
            # Local config (not committed): where this deployment reaches the object store.
            _dvc(["remote", "modify", "--local", dvc["remote"], "endpointurl", endpoint], repo, env)
    elif url.startswith("gs://"):
        # dvc-gs hands these to gcsfs: the key file (GOOGLE_APPLICATION_CREDENTIALS), the endpoint.
        token = gcs_token(config)
        if isinstance(token, dict):
            key_file = os.path.join(repo, ".dvc", "tmp", "gcs-key.json")
            os.makedirs(os.path.dirname(key_file), exist_ok=True)
            with open(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
                json.dump(token, handle)
            token = key_file
        if token == "anon":
            _dvc(["remote", "modify", "--local", dvc["remote"], "allow_anonymous_login", "true"], repo, env)
        elif token:
            env["GOOGLE_APPLICATION_CREDENTIALS"] = token
        endpoint = _optional_setting(config, "gcs_endpoint")
        if endpoint:
            _dvc(["remote", "modify", "--local", dvc["remote"], "endpointurl", endpoint], repo, env)
            env["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"  # see cloud_fs
    elif url.startswith("azure://"):
        _dvc(["remote", "modify", dvc["remote"], "account_name", config["credentials"]["azure_account"]], repo, env)
        connection_string = azure_connection_string(config)
        if connection_string:
            # dvc-azure reads it from the environment (knack's AZURE_STORAGE_CONNECTION_STRING):
            # never written in the repository's config.
            env["AZURE_STORAGE_CONNECTION_STRING"] = connection_string
    data = os.path.join(repo, dvc["path"])
    os.makedirs(os.path.dirname(data), exist_ok=True)
    shutil.copyfile(staging_path(config, context), data)
    _dvc(["add", dvc["path"]], repo, env)
    _dvc(["push", "-r", dvc["remote"], dvc["path"] + ".dvc"], repo, env)
    with open(data + ".dvc", encoding="utf-8") as handle:
        md5 = re.search(r"md5:\s*([0-9a-f]{32})", handle.read())
    return {"path": dvc["path"], "md5": md5.group(1) if md5 else None, "remote": dvc["url"]}


def upload(config, context):
    """Write the validated rows as this run's partition of the dataset (see partition_of). A
    daily dataset's run owns its whole date, so anything else in that partition (an earlier
    layout, a half-finished run) goes; a more frequent one's run owns only its own file."""
    folder, name = partition_of(config, context)
    uri = folder + name
    put(config, staging_path(config, context), uri)
    if not config["partition"]["per_run"]:
        for removed in remove_except(config, folder, uri):
            log.info("removed %s: the run of this date replaces its partition", removed)
    log.info("uploaded %s to %s", config["dataset"], uri)
    return uri


# --- Feast --------------------------------------------------------------------------------------------


def feast_repo(config):
    return setting(config, "feast_repo") or os.path.join(root(config), "feast")


class _environment:
    """Set environment variables for the length of a `with` block, then put them back (Feast
    and the S3 filesystems it uses take credentials and the endpoint from the environment)."""

    def __init__(self, values):
        self.values, self.saved = {k: v for k, v in values.items() if v is not None}, {}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def feast_environment(config):
    # The repository's file sources read their endpoint from s3_endpoint_env; Feast's S3
    # registry (feature_store.yaml) reads FEAST_S3_ENDPOINT_URL.
    endpoint = setting(config, "s3_endpoint")
    return _environment({**credentials(config), config["s3_endpoint_env"]: endpoint,
                         "FEAST_S3_ENDPOINT_URL": endpoint, **cloud_environment(config)})


def cloud_environment(config):
    """Environment variables through which libraries that build their own gs:// and abfs://
    clients (Feast's GCS registry through google-cloud-storage, its Dask offline store through
    gcsfs and adlfs) reach the spec's stores: the endpoints and the credentials."""
    env = {}
    creds = config.get("credentials") or {}
    if creds.get("gcs_conn_id"):
        endpoint = _optional_setting(config, "gcs_endpoint")
        if endpoint:
            env["STORAGE_EMULATOR_HOST"] = endpoint  # google-cloud-storage's and gcsfs's endpoint override
            env["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"  # see cloud_fs
        token = gcs_token(config)
        if isinstance(token, dict):
            handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # 0600
            with handle:
                json.dump(token, handle)
            token = handle.name
        if isinstance(token, str) and token != "anon":
            env["GOOGLE_APPLICATION_CREDENTIALS"] = token
    if creds.get("azure_conn_id"):
        env["AZURE_STORAGE_ACCOUNT_NAME"] = creds.get("azure_account")
        env["AZURE_STORAGE_CONNECTION_STRING"] = azure_connection_string(config)
    return env


def feast_store(config):
    from feast import FeatureStore

    return FeatureStore(repo_path=feast_repo(config))


def feast_definitions(store, repo):
    """The objects the repository defines (what `feast apply` parses): its Python files are
    imported from the repository folder, as the Feast CLI imports them."""
    from pathlib import Path

    from feast.project import Project
    from feast.repo_operations import get_repo_files, parse_repo, py_path_to_module

    previous = os.getcwd()
    os.chdir(repo)
    sys.path.insert(0, repo)
    modules = []
    try:
        modules = [py_path_to_module(f) for f in get_repo_files(Path(repo))]
        for module in modules:  # a module of the same name imported by an earlier task
            sys.modules.pop(module, None)
        contents = parse_repo(Path(repo))
    finally:
        sys.path.remove(repo)
        os.chdir(previous)
        for module in modules:
            sys.modules.pop(module, None)
    if not contents.projects:
        contents.projects.append(Project(name=store.project))
    return contents


def _without_meta(value):
    """A copy of a protobuf message without its `meta` (Feast stamps a data source's creation
    time there on every parse and every registry write)."""
    if not hasattr(value, "DESCRIPTOR") or "meta" not in value.DESCRIPTOR.fields_by_name:
        return value
    copy = type(value)()
    copy.CopyFrom(value)
    copy.ClearField("meta")
    return copy


def _changed(diff):
    from feast.diff.property_diff import TransitionType

    if diff.transition_type in (TransitionType.UNCHANGED, TransitionType.UNKNOWN):
        return False
    properties = getattr(diff, "feast_object_property_diffs", None) or getattr(diff, "infra_object_property_diffs", None)
    if diff.transition_type != TransitionType.UPDATE or not properties:
        return True
    return any(_without_meta(p.val_existing) != _without_meta(p.val_declared) for p in properties)


def feast_apply(config, context):
    """`feast apply`, when the repository differs from the registry: Feast's own plan compares
    the definitions with the registry (and the online store's tables), and only a difference
    is applied. A difference only in the creation time Feast stamps on a data source (which
    it does again on every parse and after every materialization) is none. Returns the changes."""
    from feast.repo_operations import apply_total_with_repo_instance

    def described(diffs, kind):
        return sorted(f"{d.transition_type.name.lower()} {getattr(getattr(d, kind), 'value', getattr(d, kind))}"
                      f" {d.name}" for d in diffs if _changed(d))

    repo = feast_repo(config)
    with feast_environment(config):
        store = feast_store(config)
        contents = feast_definitions(store, repo)
        registry_diff, infra_diff, _ = store.plan(contents)
        changes = described(registry_diff.feast_object_diffs, "feast_object_type")
        changes += described(infra_diff.infra_object_diffs, "infra_object_type")
        if not changes:
            log.info("the Feast registry of %s matches the repository: nothing to apply", repo)
            return {"applied": False, "changes": []}
        # Feast validates a file source with pyarrow's own GCS client, which reaches Google only
        # (no endpoint override from the environment): against another endpoint it would retry
        # for minutes, so a gs:// source there is not validated (reading it goes through gcsfs).
        other_gcs = bool(_optional_setting(config, "gcs_endpoint"))
        apply_total_with_repo_instance(store, store.project, store.registry, contents,
                                       skip_source_validation=other_gcs)
    log.info("applied the Feast repository %s: %s", repo, "; ".join(changes))
    return {"applied": True, "changes": changes}


def _triggering_assets(context):
    """Names of the assets whose updates started this run (none for a manual or test run); the
    ingestion DAGs update assets by name (`<system>.<dataset>`)."""
    events = context.get("triggering_asset_events") or {}
    try:
        keys = list(events.keys())
    except AttributeError:
        return set()
    return {getattr(key, "name", None) or str(key) for key in keys if events[key]}


def feast_materialize(config, context):
    """Write the latest feature values of the online feature views into the online store: those
    whose source landed (the assets that triggered the run), or all of them in a run started by
    hand. Each view is materialized over its TTL up to now, not from where the last run stopped:
    rows that land after their event time (a day's activity loaded the next morning) are still
    served, and an entity whose newest row is older than the TTL is not served anyway."""
    import datetime

    landed = _triggering_assets(context)
    views = [v for v in config["views"] if v["online"] and (not landed or v["asset"] in landed)]
    end = datetime.datetime.now(datetime.timezone.utc)
    done = []
    with feast_environment(config):
        store = feast_store(config)
        for view in views:
            if view["ttl_seconds"]:
                store.materialize(start_date=end - datetime.timedelta(seconds=view["ttl_seconds"]),
                                  end_date=end, feature_views=[view["name"]])
            else:  # no TTL: values never expire, so continue from the last materialization
                store.materialize_incremental(end_date=end, feature_views=[view["name"]])
            done.append(view["name"])
    log.info("materialized %s up to %s", done or "no feature view", end.isoformat())
    return {"materialized": done, "end": end.isoformat()}


# --- training -------------------------------------------------------------------------------------


def pipeline_arguments(config):
    """The run's parameters: each a setting (Airflow Variable, or the spec's value)."""
    values = {name: setting(config, name) for name in config.get("arguments", [])}
    return {name: value for name, value in values.items() if value is not None}


def _no_retry(message):
    """An error that fails the task without Airflow's retries (a run that started and failed
    was already retried step by step inside Kubeflow; resubmitting would run it again)."""
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:
        return RuntimeError(message)
    return AirflowFailException(message)


def _switched_on(value):
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def submit_pipeline(config, context):
    if "kfp_local" in config["settings"] and _switched_on(setting(config, "kfp_local")):
        return run_pipeline_locally(config, context)
    import kfp

    host = setting(config, "kfp_host")
    if not host:
        raise ValueError(f"no Kubeflow Pipelines host: set the Airflow Variable {config['settings']['kfp_host'][0]!r}")
    package = setting(config, "pipeline_package") or os.path.join(root(config), config["pipeline_package"])
    client = kfp.Client(host=host)
    # A failure up to here (Kubeflow unreachable, the run refused) is retried by Airflow.
    run = client.create_run_from_pipeline_package(
        package, arguments=pipeline_arguments(config), run_name=f"{config['dag_id']} {context['run_id']}",
        experiment_name=config["experiment"])
    log.info("submitted %s as Kubeflow run %s", package, run.run_id)
    try:
        finished = client.wait_for_run_completion(run.run_id, timeout=config["timeout_seconds"])
    except Exception as error:  # noqa: BLE001 - whatever it is, the run exists: do not submit it again
        raise _no_retry(f"waiting for Kubeflow run {run.run_id} failed: {error}") from error
    state = str(getattr(finished, "state", ""))
    if not state.endswith("SUCCEEDED"):
        raise _no_retry(f"Kubeflow run {run.run_id} ended in state {state}")
    return run.run_id


def run_pipeline_locally(config, context):
    """Run the pipeline's source (beside the IR under kfp/) with kfp's local runner, each step a
    subprocess of this task's Python with this task's environment, and the same arguments a
    cluster run gets. For machines without a Kubeflow Pipelines server (tests, development);
    chosen by the `kfp_local` setting. kfp's local runner does not retry steps (`set_retry` is
    a cluster feature); a failed run fails the task without Airflow's retries, as in a cluster."""
    import importlib.util

    from kfp import local

    source = os.path.join(root(config), config["pipeline_source"])
    run = re.sub(r"[^A-Za-z0-9_.-]", "_", str(context["run_id"]))
    base = setting(config, "kfp_local_root") or os.path.join(tempfile.gettempdir(), "mlspec-kfp-local")
    pipeline_root = os.path.join(base, config["system"], config["model"], run)
    os.makedirs(pipeline_root, exist_ok=True)
    name = "mlspec_pipeline_" + re.sub(r"\W", "_", source)
    spec = importlib.util.spec_from_file_location(name, source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # kfp reads the components' source through their module
    try:
        spec.loader.exec_module(module)
        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root)
        log.info("running %s locally (kfp local runner) in %s", source, pipeline_root)
        try:
            getattr(module, config["pipeline_function"])(**pipeline_arguments(config))
        except Exception as error:  # noqa: BLE001 - a step failed: do not run the pipeline again
            raise _no_retry(f"local run of {config['pipeline_source']} failed: {error}") from error
    finally:
        sys.modules.pop(name, None)
    return "local:" + pipeline_root


# --- drift ------------------------------------------------------------------------------------------


def load_check(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("mlspec_drift_" + re.sub(r"\W", "_", path), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The prediction log KServe's inference logger writes (blob storage, the JSON marshaller, which is
# the default `storage.parameters.format`): kserve/kserve pkg/logger/store.go names each object
# `<url path>/<namespace>/<inference service>/<component>/<storage.path>/<id>-<request|response>.json`
# (getObjectKey: the part of the CloudEvent type after its last dot), and pkg/logger/marshaller_json.go
# writes one LogRequest (pkg/logger/types.go) as a JSON object, or a batch of them as a list: `id` (the
# CloudEvent id, ce-id, shared by a request and its response), `reqType`
# (org.kubeflow.serving.inference.request / .response, pkg/logger/worker.go), `bytes` (the HTTP body,
# base64 as Go encodes a []byte), `contentType`, `occurrenceTime` (RFC 3339) and the service's names.
KSERVE_REQUEST = "org.kubeflow.serving.inference.request"
KSERVE_RESPONSE = "org.kubeflow.serving.inference.response"


def kserve_events(config, prefix):
    """Every LogRequest under `prefix` (a folder of the logger's JSON objects), in name order."""
    events = []
    with tempfile.TemporaryDirectory() as workdir:
        for index, (name, _) in enumerate(list_files(config, prefix, [".json"])):
            with open(download(config, name, workdir, index), encoding="utf-8") as handle:
                value = json.load(handle)
            events.extend(value if isinstance(value, list) else [value])
    return events


def _body(event):
    import base64

    raw = event.get("bytes")
    return json.loads(base64.b64decode(raw)) if raw else {}


def _tensor_rows(tensors, names):
    """v2 (Open Inference Protocol) tensors as rows: one tensor per column (named as the column,
    shape [n] or [n, 1]), or one [n, k] tensor whose k columns are `names` in order."""
    import numpy as np

    if not tensors:
        return [], []
    if len(tensors) == 1 and len(tensors[0].get("shape", [])) == 2 and tensors[0]["shape"][1] > 1:
        tensor = tensors[0]
        data = np.asarray(tensor["data"], dtype=object).reshape(tensor["shape"])
        columns = list(names) if len(names) == tensor["shape"][1] else [f"{tensor['name']}_{i}" for i in
                                                                        range(tensor["shape"][1])]
        return columns, [list(row) for row in data]
    columns = [t["name"] for t in tensors]
    length = max(len(t["data"]) for t in tensors)
    return columns, [[t["data"][i] if i < len(t["data"]) else None for t in tensors] for i in range(length)]


def _instance_rows(instances, names):
    """v1 `instances`: each a list of feature values in `names` order, or a dict by name."""
    if instances and isinstance(instances[0], dict):
        columns = list(dict.fromkeys(k for row in instances for k in row))
        return columns, [[row.get(c) for c in columns] for row in instances]
    width = len(instances[0]) if instances else 0
    columns = list(names) if len(names) == width else [f"feature_{i}" for i in range(width)]
    return columns, [list(row) if isinstance(row, list | tuple) else [row] for row in instances]


def kserve_frame(events, features, prediction_column="prediction", timestamp_column="timestamp"):
    """The feature frame of a prediction log: each request's rows (v1 `instances`, v2 `inputs`)
    joined, by the event id both carry, with the response's predictions (v1 `predictions`, v2
    `outputs`), stamped with the request's occurrence time. A request without its response yet
    keeps its features (drift is about inputs); a response without its request is left out."""
    import pandas as pd

    requests, responses = {}, {}
    for event in events:
        kind = event.get("reqType", "")
        if kind == KSERVE_REQUEST:
            requests[event["id"]] = event
        elif kind == KSERVE_RESPONSE:
            responses[event["id"]] = event
    frames = []
    for event_id, request in sorted(requests.items()):
        body = _body(request)
        if "instances" in body:
            columns, rows = _instance_rows(body["instances"], features)
        else:
            columns, rows = _tensor_rows(body.get("inputs", []), features)
        frame = pd.DataFrame(rows, columns=columns)
        if event_id in responses:
            answer = _body(responses[event_id])
            if "predictions" in answer:
                predicted = answer["predictions"]
            else:
                outputs = answer.get("outputs", [])
                predicted = outputs[0]["data"] if outputs else []
            if len(predicted) == len(frame):
                frame[prediction_column] = predicted
        frame[timestamp_column] = pd.to_datetime(request["occurrenceTime"], utc=True)
        frame["event_id"] = event_id
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*features, prediction_column, timestamp_column, "event_id"])
    return pd.concat(frames, ignore_index=True)


def read_predictions(config):
    """The prediction log the drift DAG compares: KServe's logger objects when the model's
    InferenceService logs to the object store (`prediction_log: kserve`), else a dataset."""
    uri = setting(config, "predictions")
    if config.get("prediction_log") == "kserve":
        return kserve_frame(kserve_events(config, uri), config.get("features", []),
                            timestamp_column=config["timestamp_column"])
    return read_frame(config, uri)


def check_drift(config, context):
    import pandas as pd

    column = config["timestamp_column"]
    end = context.get("data_interval_end") or context.get("logical_date")
    end = pd.Timestamp(end) if end is not None else pd.Timestamp.now(tz="UTC")
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    start = end - pd.Timedelta(seconds=config["window_seconds"])
    # The training data: every partition of the feature source up to the run's date (or the
    # snapshot the training pipeline wrote).
    reference = read_dataset(config, setting(config, "reference"), config.get("partition_column", "ds"),
                             until=end.strftime("%Y-%m-%d"))
    current = read_predictions(config)
    if column in current.columns:
        times = pd.to_datetime(current[column], utc=True)
        current = current[(times > start) & (times <= end)]
    else:
        log.warning("prediction log has no %r column: comparing all %d rows", column, len(current))
    if current.empty:
        log.warning("no predictions between %s and %s: nothing to compare", start, end)
        return {"drift_detected": False, "drift_share": None, "rows": 0, "window": [str(start), str(end)]}
    result = load_check(os.path.join(root(config), config["check"])).check_drift(reference, current)
    result = dict(result, rows=int(len(current)), reference_rows=int(len(reference)), window=[str(start), str(end)])
    log.info("drift check: %s", json.dumps(result, sort_keys=True))
    return result


def decide(config, context):
    result = context["ti"].xcom_pull(task_ids="check_drift")
    branch = config["branches"]["drift" if result and result.get("drift_detected") else "no_drift"]
    log.info("drift share %s (threshold %s): %s", result.get("drift_share"), result.get("threshold"), branch)
    return branch


def alert_drift(config, context):
    result = context["ti"].xcom_pull(task_ids="check_drift")
    raise RuntimeError(f"model {config['model']!r}: drift share {result.get('drift_share')} is above"
                       f" {result.get('threshold')}; drifted columns: {result.get('drifted_columns')}")


STEPS = {"extract": extract, "validate": validate, "version": version, "upload": upload,
         "feast_apply": feast_apply, "feast_materialize": feast_materialize,
         "submit_pipeline": submit_pipeline, "check_drift": check_drift, "decide": decide,
         "alert_drift": alert_drift}


def main(argv=None):
    import argparse

    import pandas as pd

    parser = argparse.ArgumentParser(prog="mlspec_runtime.py")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="validate a Parquet file with a Great Expectations suite")
    check.add_argument("--suite", required=True)
    check.add_argument("--data", required=True)
    check.add_argument("--report", required=True)
    args = parser.parse_args(argv)
    with open(args.suite, encoding="utf-8") as handle:
        outcome = validate_frame(json.load(handle), pd.read_parquet(args.data))
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    with open(args.report, "w", encoding="utf-8") as handle:
        json.dump(outcome, handle, indent=2, sort_keys=True)
    if not outcome["success"]:
        print(failure_report(outcome), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
