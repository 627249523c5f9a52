"""Constrained scalar types of the spec language.

Each is an `Annotated` string with a pattern (so the JSON Schema lets an editor flag it)
and a validator that explains the rule in words (so `mlspec validate` does too).
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# --- names -----------------------------------------------------------------------------

DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Model and system names become both Kubernetes names (with `-`) and Python identifiers
# (with `_`), so they are lower case and may use either separator.
RESOURCE_NAME_RE = re.compile(r"^[a-z]([a-z0-9_-]*[a-z0-9])?$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not DNS1123_LABEL_RE.fullmatch(value):
        raise PydanticCustomError(
            "dns_label",
            "`{value}` is not a valid Kubernetes name: use at most 63 lower-case letters, digits"
            " and `-`, starting and ending with a letter or digit",
            {"value": value},
        )
    return value


# A system's name prefixes generated Kubernetes names (`<system>-<model>-predictor-00001`),
# DAG ids and file names, so it is a shorter DNS label.
MAX_SYSTEM_NAME = 40


def _system_name(value: str) -> str:
    if DNS1123_LABEL_RE.fullmatch(value) and len(value) > MAX_SYSTEM_NAME:
        raise PydanticCustomError(
            "system_name", "`{value}` is {length} characters long; a system name has at most 40 (it prefixes"
            " Kubernetes names, which Knative lengthens)", {"value": value, "length": len(value)})
    if len(value) > MAX_SYSTEM_NAME or not DNS1123_LABEL_RE.fullmatch(value):
        raise PydanticCustomError(
            "system_name",
            "`{value}` is not a valid system name: use at most 40 lower-case letters, digits and `-`,"
            " starting and ending with a letter or digit (it prefixes Kubernetes names)",
            {"value": value},
        )
    return value


def _identifier(value: str) -> str:
    if not IDENTIFIER_RE.fullmatch(value) or keyword.iskeyword(value) or len(value) > 80:
        raise PydanticCustomError(
            "identifier",
            "`{value}` cannot be used as a name here: use letters, digits and `_`, not starting"
            " with a digit and not a Python keyword (at most 80 characters)",
            {"value": value},
        )
    return value


def _resource_name(value: str) -> str:
    if len(value) > 40 or not RESOURCE_NAME_RE.fullmatch(value) or "--" in value or "__" in value:
        raise PydanticCustomError(
            "resource_name",
            "`{value}` is not a valid name: use at most 40 lower-case letters, digits, `-` or `_`,"
            " starting with a letter and ending with a letter or digit",
            {"value": value},
        )
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label),
                     Field(pattern=DNS1123_LABEL_RE.pattern, max_length=63)]
SystemName = Annotated[str, AfterValidator(_system_name),
                       Field(pattern=DNS1123_LABEL_RE.pattern, max_length=MAX_SYSTEM_NAME)]
Identifier = Annotated[str, AfterValidator(_identifier), Field(pattern=IDENTIFIER_RE.pattern)]
ResourceName = Annotated[str, AfterValidator(_resource_name),
                         Field(pattern=RESOURCE_NAME_RE.pattern, max_length=40)]

# --- Kubernetes labels ---------------------------------------------------------------------

LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                          r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if not LABEL_KEY_RE.fullmatch(value) or len(name) > 63 or len(prefix) > 253:
        raise PydanticCustomError(
            "label_key", "`{value}` is not a Kubernetes label key: an optional DNS prefix and `/`, then at most"
            " 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit", {"value": value})
    return value


def _label_value(value: str) -> str:
    if len(value) > 63 or not LABEL_VALUE_RE.fullmatch(value):
        raise PydanticCustomError(
            "label_value", "`{value}` is not a Kubernetes label value: at most 63 letters, digits, `-`, `_` or"
            " `.`, starting and ending with a letter or digit", {"value": value})
    return value


LabelKey = Annotated[str, AfterValidator(_label_key), Field(pattern=LABEL_KEY_RE.pattern)]
LabelValue = Annotated[str, AfterValidator(_label_value), Field(pattern=LABEL_VALUE_RE.pattern, max_length=63)]

# --- durations ----------------------------------------------------------------------------

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_RE = re.compile(r"^(\d+(ms|s|m|h|d|w))+$")
_DURATION_PART_RE = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def duration_seconds(value: str) -> float:
    return sum(int(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART_RE.findall(value))


def _duration(value: str) -> str:
    if not DURATION_RE.fullmatch(value) or duration_seconds(value) <= 0:
        raise PydanticCustomError(
            "duration",
            "`{value}` is not a duration: write a positive number with a unit (ms, s, m, h, d, w),"
            " e.g. `10s`, `24h`, `1d` or `1h30m`",
            {"value": value},
        )
    return value


Duration = Annotated[str, AfterValidator(_duration),
                     Field(pattern=DURATION_RE.pattern, examples=["10s", "24h", "1d"])]

# --- schedules ----------------------------------------------------------------------------

# Airflow 3 turns a schedule string into a timetable (airflow.sdk.definitions.dag): `@once` and
# `@continuous` are timetables of their own; anything else is a cron expression, after its
# presets (airflow.utils.dates.cron_presets: @hourly ... @yearly, with @quarterly) are
# expanded, that croniter must accept (CronMixin.validate). croniter knows @midnight and
# @annually itself.
SCHEDULE_PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly",
                    "@yearly", "@annually", "@midnight")
# What a Kubernetes CronJob takes (robfig/cron's standard parser): its descriptors, or five fields.
CRONJOB_PRESETS = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")
_CRON_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
                ("month", 1, 12, {m: i + 1 for i, m in enumerate(
                    "jan feb mar apr may jun jul aug sep oct nov dec".split())}),
                ("day of week", 0, 7, {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}))


def cron_problem(expression: str) -> str | None:
    """Why a plain five-field cron expression (numbers, names, `*`, ranges, steps and lists) is
    invalid, or None when it is valid. Every expression this accepts croniter accepts too
    (tests/unit/spec/test_schedules.py); croniter's extensions (`L`, `W`, `#`, `?`) are not
    plain."""
    fields = expression.split()
    if len(fields) != 5:
        return f"a cron expression has 5 fields (minute hour day month weekday), found {len(fields)}"
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS):
        for part in text.split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"invalid step `{step}` in the {name} field"
            if base == "*":
                continue
            bounds = base.split("-")
            if len(bounds) > 2 or not all(bounds):
                return f"invalid {name} field `{text}`"
            for bound in bounds:
                number = names.get(bound.lower()) if not bound.isdigit() else int(bound)
                if number is None or not low <= number <= high:
                    return f"`{bound}` is out of range for the {name} field ({low}-{high})"
            if len(bounds) == 2:
                first = names.get(bounds[0].lower(), None) if not bounds[0].isdigit() else int(bounds[0])
                last = names.get(bounds[1].lower(), None) if not bounds[1].isdigit() else int(bounds[1])
                if first > last:
                    return f"range `{base}` runs backwards in the {name} field"
    return None


def airflow_cron_problem(expression: str) -> str | None:
    """Why Airflow would refuse a cron expression, or None when it takes it: a plain expression is
    checked here, anything else by croniter, the library Airflow validates cron schedules with
    (imported only then: it costs a spec without such a schedule nothing)."""
    problem = cron_problem(expression)
    if problem is None:
        return None
    fields = expression.split()
    if len(fields) != 5:
        # croniter would take a sixth (seconds) and seventh (year) field, but Airflow schedules
        # by the minute and does not describe them (CronMixin treats more than 5 as malformed).
        return problem
    from croniter import CroniterError, croniter

    try:
        croniter(expression)
    except (CroniterError, ValueError, KeyError, IndexError):  # croniter's own or a parse failure
        return problem
    return None


def _schedule(value: str) -> str:
    if value.startswith("@"):
        if value not in SCHEDULE_PRESETS:
            raise PydanticCustomError(
                "schedule", "unknown schedule preset `{value}`: use one of {presets} or a cron expression",
                {"value": value, "presets": ", ".join(SCHEDULE_PRESETS)})
        return value
    problem = airflow_cron_problem(value)
    if problem:
        raise PydanticCustomError("schedule", "`{value}` is not a valid schedule: {problem}",
                                  {"value": value, "problem": problem})
    return value


def _cronjob_schedule(value: str) -> str:
    if value.startswith("@"):
        if value not in CRONJOB_PRESETS:
            raise PydanticCustomError(
                "schedule", "a Kubernetes CronJob does not take `{value}`: use one of {presets} or a cron expression",
                {"value": value, "presets": ", ".join(CRONJOB_PRESETS)})
        return value
    problem = cron_problem(value)
    if problem:
        raise PydanticCustomError("schedule", "`{value}` is not a valid CronJob schedule: {problem}",
                                  {"value": value, "problem": problem})
    return value


# An Airflow DAG's schedule: a preset or a cron expression Airflow (croniter) accepts, such as
# `0 6 L * *` (06:00 on the last day of each month).
Schedule = Annotated[str, AfterValidator(_schedule),
                     Field(examples=["@daily", "0 3 * * 1-5"])]
# A Kubernetes CronJob's schedule.
CronJobSchedule = Annotated[str, AfterValidator(_cronjob_schedule),
                            Field(examples=["*/5 * * * *", "@hourly"])]

# --- Kubernetes quantities ----------------------------------------------------------------

QUANTITY_RE = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def _quantity(value: str | int | float) -> str:
    # Kubernetes wants strings; a bare YAML number (cpu: 2) is accepted and written as "2".
    text = str(value) if not isinstance(value, bool) else ""
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if not QUANTITY_RE.fullmatch(text):
        raise PydanticCustomError(
            "quantity", "`{value}` is not a Kubernetes quantity: write e.g. `500m`, `2`, `1Gi`",
            {"value": str(value)})
    return text


Quantity = Annotated[str | int | float, AfterValidator(_quantity),
                     Field(examples=["500m", "2", "4Gi"])]

# --- URLs ---
# Python's `$` also matches before a trailing newline, so every rule here is checked with
# fullmatch: "http://host\nimport os" is not a URL.------------------------------------------------------------------------------

URL_RE = re.compile(r"^(https?|s3|gs|file)://[^\s/@]+(/[^\s]*)?$")


def _url(value: str) -> str:
    # Credentials in a URL (user:pass@host) are reported by the literal-secrets check.
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", value):
        raise PydanticCustomError("url", "`{value}` is not a URL (e.g. `http://host:port`)", {"value": value})
    return value


Url = Annotated[str, AfterValidator(_url), Field(examples=["http://mlflow.mlflow.svc.cluster.local:5000"])]


# Where KServe finds a model version (`serving.storageUri`): set by `mlspec promote` from what
# MLflow answers, so the same rule checks the spec's value and MLflow's (gitops/promote.py).
# A `scheme://...` URI or an absolute path (KServe's storage initializer copies a local
# folder), one line of printable characters without spaces: it is written into manifests
# and commit messages, where a newline would start a line of its own.
STORAGE_URI_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^\s]+|/[^\s]*")
MAX_STORAGE_URI = 2048


def check_storage_uri(value: str) -> str:
    if re.match(r"^(models|runs):/", value):
        raise PydanticCustomError(
            "storage_uri", "KServe cannot read `{value}`: use the storage folder URI of the model version"
            " (s3://.../artifacts/model)", {"value": value})
    if len(value) > MAX_STORAGE_URI or not value.isprintable() or not STORAGE_URI_RE.fullmatch(value):
        raise PydanticCustomError(
            "storage_uri", "`{value}` is not a storage URI: write `scheme://bucket/path` (s3://, gs://, pvc://...)"
            " or an absolute path, on one line, without spaces or control characters, at most 2048 characters",
            {"value": value})
    return value


StorageUri = Annotated[str, AfterValidator(check_storage_uri)]


# Where the generated tasks read and write data. The runtime they run
# (mlspec.runtime.airflow_tasks) reads and writes these and nothing else, so any other scheme
# is refused here (E112) rather than handed to a task that would take `x://b/k` for a local
# path. s3:// goes through boto3, gs:// through fsspec's gcsfs, abfs:// through fsspec's adlfs
# (the container is the authority; the storage account is `platform.azure.account`, so a
# `container@account...` authority is refused: one account per spec, one lineage name).
# adlfs's alias az:// is refused (E112) so a location has one spelling.
DATA_LOCATION_RE = re.compile(r"(s3|gs|abfs)://[^/\s*?\[@]+(/\S*)?|file:///\S*|/\S*")
OBJECT_SCHEMES = ("s3", "gs", "abfs")
DATA_SCHEMES = "s3:// (S3 or MinIO), gs:// (Google Cloud Storage), abfs:// (Azure Blob Storage / ADLS Gen2), file:// or an absolute path"
WILDCARD_RE = re.compile(r"[*?\[]")


# A `..` segment climbs out of the folder or bucket a location names: `/data/../../home/u/.profile`
# on a worker, `s3://../x` read by `mlspec run --local` as `store/../x`, outside its work folder.
# No location needs one (write the path it means), so none is taken; `.` segments likewise.
DOT_SEGMENT_RE = re.compile(r"(^|/)\.{1,2}(/|$)")


def dot_segment_problem(value: str) -> str:
    """Why `value` (a location, after its scheme) is refused for its `.`/`..` segments, or ""."""
    rest = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value)
    if DOT_SEGMENT_RE.search(rest) or DOT_SEGMENT_RE.search(rest.replace("\\", "/")):
        return "a `..` or `.` segment (a location names its folder or bucket plainly, never one above it)"
    return ""


def _no_dot_segments(value: str) -> str:
    problem = dot_segment_problem(value)
    if problem:
        raise PydanticCustomError("dot_segment", "`{value}`: {problem}", {"value": value, "problem": problem})
    return value


def _data_location(value: str, *, wildcards: bool) -> str:
    _no_dot_segments(value)
    if not DATA_LOCATION_RE.fullmatch(value):
        scheme = re.match(r"([a-z][a-z0-9+.-]*)://\S", value)
        if scheme and scheme.group(1) in OBJECT_SCHEMES:
            raise PydanticCustomError(
                "object_uri", "`{value}` is not an object-store URI: write `{scheme}://{container}/key`"
                " (no user, account or host in it: an abfs:// account is `platform.azure.account`)",
                {"value": value, "scheme": scheme.group(1),
                 "container": "container" if scheme.group(1) == "abfs" else "bucket"})
        if scheme:
            raise PydanticCustomError(
                "unreadable_uri", "`{value}`: the generated tasks cannot read or write {scheme}:// locations;"
                " use {schemes}", {"value": value, "scheme": scheme.group(1), "schemes": DATA_SCHEMES})
        raise PydanticCustomError(
            "object_uri", "`{value}` is not an object-store URI: write `s3://bucket/key`", {"value": value})
    if not wildcards and WILDCARD_RE.search(value):
        raise PydanticCustomError(
            "object_uri", "`{value}` is a location to write to: it cannot hold the wildcards `*`, `?` or `[`",
            {"value": value})
    return value


def _object_uri(value: str) -> str:
    """A location the generated tasks write to (and read back): no wildcards."""
    return _data_location(value, wildcards=False)


def _source_uri(value: str) -> str:
    """A location the generated tasks read: a file or object, a folder, or a wildcard pattern."""
    return _data_location(value, wildcards=True)


ObjectUri = Annotated[str, AfterValidator(_object_uri), Field(examples=["s3://raw-data/customers.parquet"])]
SourceUri = Annotated[str, AfterValidator(_source_uri), Field(examples=["s3://landing/activity/*.parquet"])]


# --- values that reach a shell, a config file or git --------------------------------------------
# Each is refused unless it is plainly what it says, because it lands in syntax of its own:
# pip's command line inside each KFP step, dvc's INI config, git argv and pathspecs, and
# Kubernetes names.

def _matching(pattern: str, kind: str, message: str, also=lambda value: True):
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value) or not also(value):
            raise PydanticCustomError(kind, message, {"value": value})
        return value
    return Annotated[str, AfterValidator(check), Field(pattern=pattern)]


_VERSION_SPEC = r"(===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
PackageRequirement = _matching(
    r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?"
    rf"(\s*{_VERSION_SPEC}(\s*,\s*{_VERSION_SPEC})*)?$", "package",
    "`{value}` is not a package requirement: write `name`, `name==1.2` or `name[extra]>=1,<2` (PEP 508"
    " without URLs, markers or pip options)")
ModelVersion = _matching(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", "model_version",
    "`{value}` is not a model version: at most 63 letters, digits, `.`, `_` or `-` (it becomes part of"
    " Kubernetes names)")
RegionName = _matching(
    r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$", "region", "`{value}` is not a region name like `us-east-1`")
AzureAccount = _matching(
    r"^[a-z0-9]{3,24}$", "region", "`{value}` is not an Azure storage account name: 3 to 24 lowercase letters or digits")
GitUrl = _matching(
    r"^((https?|ssh|git|file)://[^\s]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+)$", "url",
    "`{value}` is not a git repository URL (https://, ssh://, git://, file:// or user@host:path)")
# A container image reference (registry/repository[:tag][@digest]), lower-case repository path.
ImageRef = _matching(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(\.[a-z0-9-]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$", "image",
    "`{value}` is not a container image reference (registry/repository:tag or @sha256:digest)")
GitRevision = _matching(
    r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$", "git_revision", "`{value}` is not a branch or tag name",
    also=lambda value: ".." not in value and not value.endswith((".lock", "/", ".")))
# Publish owns `<path>/<system>/` in someone else's repository: plain folder names only, never
# `.git`, `..`, an option (`-x`) or a git pathspec (`:!x`).
RepoPath = _matching(
    r"^/?[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*/?$", "relative_path",
    "`{value}` must be a relative path of plain folder names (letters, digits, `_`, `-`, `.`; not starting"
    " with `.` or `-`)")
