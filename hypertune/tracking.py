"""MLflow access: where the tracking store is, and the few calls hypertune makes to it.

The store is, in order: ``--tracking-uri``, ``MLFLOW_TRACKING_URI``, then MLflow's own default,
SQLite ``mlflow.db`` in the working directory with artifacts under ``mlruns/``. A relative SQLite
path is made absolute so that trials shipped to other processes write to the same file.

Runs are addressed by id through :class:`mlflow.MlflowClient`, never through MLflow's global
"active run", so a study's parent run and its trials' child runs cannot get mixed up.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypertune.errors import TrackingError

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

DEFAULT_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "hypertune"

#: Tags hypertune writes; ``mlflow.*`` ones are MLflow's own.
TAG_ROLE = "hypertune.role"
TAG_STUDY = "hypertune.study"
TAG_TRIAL = "hypertune.trial"
TAG_TEMPLATE = "hypertune.template"
TAG_SHA256 = "hypertune.template_sha256"
TAG_PARENT = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"

_MAX_BATCH = 100


def resolve_uri(uri: str | None = None) -> str:
    """The tracking URI to use, with a relative SQLite path made absolute."""
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    prefix = "sqlite:///"
    if chosen.startswith(prefix) and not chosen.startswith(prefix + "/"):
        chosen = prefix + str(Path(chosen[len(prefix) :]).resolve())
    return chosen


def quiet_mlflow() -> None:
    """Keep MLflow's and Alembic's informational lines (database set-up) off the console."""
    for name in ("mlflow", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


class Tracker:
    """A tracking store, reached through one client; every call names its run."""

    def __init__(self, uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT):
        self.uri = resolve_uri(uri)
        self.experiment_name = experiment
        self._experiment_id: str | None = None
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            quiet_mlflow()
            self._check_reachable()
            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def _check_reachable(self) -> None:
        """Fail fast and plainly when a tracking server does not answer."""
        if not self.uri.startswith(("http://", "https://")):
            return
        import requests

        try:
            requests.get(self.uri.rstrip("/") + "/health", timeout=10).raise_for_status()
        except requests.RequestException as error:
            raise TrackingError(
                f"cannot reach the MLflow tracking server at {self.uri} ({type(error).__name__}); "
                "start it, or pass another --tracking-uri"
            ) from None

    def experiment_id(self, create: bool = True) -> str | None:
        """The id of this tracker's experiment, created on first use when ``create``."""
        if self._experiment_id is None:
            found = self._call(self.client.get_experiment_by_name, self.experiment_name)
            if found is not None and found.lifecycle_stage == "deleted":
                self._call(self.client.restore_experiment, found.experiment_id)
            if found is not None:
                self._experiment_id = found.experiment_id
            elif create:
                self._experiment_id = self._call(
                    self.client.create_experiment, self.experiment_name
                )
        return self._experiment_id

    def start_run(self, name: str, tags: Mapping[str, str], parent_id: str | None = None) -> str:
        all_tags = {TAG_RUN_NAME: name, **tags}
        if parent_id:
            all_tags[TAG_PARENT] = parent_id
        experiment_id = self.experiment_id()
        run = self._call(self.client.create_run, experiment_id, tags=all_tags, run_name=name)
        return str(run.info.run_id)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.log(run_id, params=params)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        self.log(run_id, metrics=metrics, step=step)

    def log(
        self,
        run_id: str,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        step: int = 0,
    ) -> None:
        """Params and metrics in as few store calls as MLflow's batch limits allow."""
        import time

        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        param_items = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
        metric_items = [Metric(k, float(v), now, step) for k, v in (metrics or {}).items()]
        while param_items or metric_items:
            self._call(
                self.client.log_batch,
                run_id,
                params=param_items[:_MAX_BATCH],
                metrics=metric_items[:_MAX_BATCH],
            )
            param_items, metric_items = param_items[_MAX_BATCH:], metric_items[_MAX_BATCH:]

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)[:8000]) for k, v in tags.items()]
        self._call(self.client.log_batch, run_id, tags=items)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self._call(self.client.set_terminated, run_id, status)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._store_artifact(run_id, self.client.log_text, run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / Path(artifact_file).name
            figure.savefig(local, dpi=100, bbox_inches="tight")
            parent = str(Path(artifact_file).parent)
            self._store_artifact(
                run_id,
                self.client.log_artifact,
                run_id,
                str(local),
                None if parent == "." else parent,
            )

    def log_artifacts(self, run_id: str, local_folder: Path, artifact_path: str) -> None:
        self._store_artifact(
            run_id, self.client.log_artifacts, run_id, str(local_folder), artifact_path
        )

    def artifact_names(self, run_id: str) -> set[str]:
        return {item.path for item in self._call(self.client.list_artifacts, run_id)}

    def _store_artifact(self, run_id: str, method: Any, *args: Any) -> None:
        """Write an artifact; a failure names the location (unwritable, missing, disk full)."""
        try:
            method(*args)
        except Exception as error:
            if isinstance(error, TrackingError):
                raise
            where = self.get_run(run_id).info.artifact_uri
            raise TrackingError(
                f"cannot write artifacts to {where}: {_first_line(error)}; check that it exists, "
                "is writable and has free space"
            ) from error

    def register_model(self, name: str, run_id: str, artifact_path: str) -> str:
        """Register the run's ``artifact_path`` as a new version of model ``name``."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name)
        except MlflowException as error:
            if "already exists" not in str(error).lower():
                raise TrackingError(
                    f"cannot register model '{name}': {_first_line(error)}"
                ) from None
        run = self.get_run(run_id)
        version = self._call(
            self.client.create_model_version,
            name,
            f"{run.info.artifact_uri}/{artifact_path}",
            run_id,
        )
        return str(version.version)

    def get_run(self, run_id: str) -> Run:
        run: Run = self._call(self.client.get_run, run_id)
        return run

    def search(self, filter_string: str, order_by: list[str] | None = None) -> list[Run]:
        """All runs of this experiment matching ``filter_string`` (every page)."""
        experiment_id = self.experiment_id(create=False)
        if experiment_id is None:
            return []
        runs: list[Run] = []
        token = None
        while True:
            page = self._call(
                self.client.search_runs,
                [experiment_id],
                filter_string=filter_string,
                order_by=order_by,
                max_results=1000,
                page_token=token,
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def run_url(self, run_id: str) -> str:
        """Where the run shows in the MLflow UI (``hypertune ui`` for a local store)."""
        base = self.uri if self.uri.startswith("http") else "http://127.0.0.1:5000"
        return f"{base.rstrip('/')}/#/experiments/{self.experiment_id()}/runs/{run_id}"

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except TrackingError:
            raise
        except Exception as error:
            raise TrackingError(
                f"the MLflow store at {self.uri} failed: {_first_line(error)}"
            ) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
