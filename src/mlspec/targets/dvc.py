"""DVC: the remote configuration (S3/MinIO or GCS endpoint, Azure account, never credentials) and a `dvc.yaml`
whose stages re-run each versioned dataset's Great Expectations suite.

The ingestion DAG's `version` task does `dvc add data/<dataset>.parquet` and `dvc push` in
the DVC repository (by default this `dvc/` folder), so `data/<dataset>.parquet.dvc` records
each version; the stage `validate_<dataset>` depends on that file and writes the validation
report as a DVC metric, so `dvc repro` after `dvc checkout` re-checks any version and
`dvc metrics show` shows whether it passed. Credentials belong in `.dvc/config.local` or in
the AWS_* environment, never in the committed config.
"""

from __future__ import annotations

from mlspec.ir.model import IRProject
from mlspec.targets import airflow_common as common
from mlspec.targets.base import Artifact, Target
from mlspec.targets.emit import dump_yaml
from mlspec.ir.layout import DAGS_DIR, HELPER_MODULE, suite_path

# Paths from the DVC folder (generated/<system>/dvc) to its neighbours.
HELPER = f"../{DAGS_DIR}/{HELPER_MODULE}"


class DvcTarget(Target):
    name = "dvc"
    description = "DVC remote configuration and dvc.yaml validation stages"

    def generate(self, project: IRProject) -> list[Artifact]:
        system = project.base
        versioned = [d for d in system.datasets if d.dvc_remote]
        if not versioned:
            return []
        store, gcs, azure = system.platform.object_store, system.platform.gcs, system.platform.azure
        remotes: dict[str, str] = {}
        for dataset in versioned:
            remotes.setdefault(common.dvc_remote_name(dataset.dvc_remote), dataset.dvc_remote)
        if store is None and any(url.startswith("s3://") for url in remotes.values()):
            self.warn("DVC remotes on s3:// without `platform.objectStore`: the remote uses AWS S3's own endpoint",
                      system.spec_path, ("platform",))
        lines = ["[core]", f"    remote = {next(iter(remotes))}"]
        for name, url in remotes.items():
            lines += [f"['remote \"{name}\"']", f"    url = {common.dvc_url(url)}"]
            if store is not None and url.startswith("s3://"):
                lines.append(f"    endpointurl = {store.endpoint}")
                if store.region:
                    lines.append(f"    region = {store.region}")
            if gcs is not None and gcs.endpoint and url.startswith("gs://"):
                lines.append(f"    endpointurl = {gcs.endpoint}")  # dvc-gs
            if azure is not None and url.startswith("abfs://"):
                lines.append(f"    account_name = {azure.account}")  # dvc-azure; the key stays outside
        stages = {}
        for dataset in versioned:
            if not dataset.columns and not dataset.expectations:
                continue  # no suite to validate against
            data = common.dvc_data_path(dataset)
            suite = f"../{suite_path(dataset)}"
            report = f"reports/{dataset.name}.validation.json"
            stages[f"validate_{dataset.name}"] = {
                "cmd": f"python {HELPER} validate --suite {suite} --data {data} --report {report}",
                "deps": [HELPER, suite, data],
                "metrics": [{report: {"cache": False}}],
            }
        artifacts = [self.artifact("dvc/config", "\n".join(lines) + "\n")]
        if stages:
            artifacts.append(self.artifact("dvc/dvc.yaml", dump_yaml({"stages": stages})))
        return artifacts
