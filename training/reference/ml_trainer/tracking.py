"""Experiment tracking: the run's parameters, per-epoch metrics and bundle, logged to MLflow.

Configured by MLflow's own environment variables (the launcher sets them from the team's
`mlflow/tracking-server-arn` training parameter; constructs/training/contract.ts TRACKING_ENV
names them and a test checks both sides agree):

    MLFLOW_TRACKING_URI      a SageMaker tracking server ARN, or an http(s):// MLflow server
    MLFLOW_EXPERIMENT_NAME   the experiment (default "Default")
    MLFLOW_RUN_NAME          the run (default: SageMaker's TRAINING_JOB_NAME)

Without a tracking URI, and on every rank but 0 of a distributed job (`RANK`), tracking is a
no-op. The MLflow client is used where it is importable (the SageMaker training image has
it, with the sagemaker-mlflow plugin that signs calls to an ARN); otherwise a small client of
MLflow's REST API 2.0 serves plain http(s) servers. Tracking never fails a training run: the
first error prints one warning and tracking stops for the rest of the run.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Dict, Mapping, Optional

ENV = {
    "trackingUri": "MLFLOW_TRACKING_URI",
    "experimentName": "MLFLOW_EXPERIMENT_NAME",
    "runName": "MLFLOW_RUN_NAME",
}

# MLflow's limits per log-batch request.
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000


class TrackingError(Exception):
    """A tracking call failed; the message says which and why."""


class Tracker:
    """The interface: a run with params, metrics by step, artifacts, and an end status."""

    def start(self, params: Mapping[str, object]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, Optional[float]], step: int) -> None:
        pass

    def log_artifacts(self, local_dir: str, artifact_path: str) -> None:
        pass

    def end(self, status: str = "FINISHED") -> None:
        pass


class NoTracking(Tracker):
    """No tracking server configured: nothing is logged and nothing changes."""


def _numbers(metrics: Mapping[str, Optional[float]]) -> Dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class RestTracker(Tracker):
    """MLflow's REST API 2.0 over urllib: for http(s) servers where the client is not installed."""

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: Optional[str],
        env: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
    ) -> None:
        self.base = uri.rstrip("/")
        self.experiment = experiment
        self.run_name = run_name
        self.clock = clock
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json"}
        token = env.get("MLFLOW_TRACKING_TOKEN")
        user, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user and password:
            basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {basic}"
        self.run_id = ""
        self.artifact_uri = ""

    def _ms(self) -> int:
        return int(self.clock() * 1000)

    def _call(self, method: str, path: str, body: Optional[object] = None, data: Optional[bytes] = None,
              content_type: Optional[str] = None) -> dict:
        url = f"{self.base}{path}"
        payload = data if data is not None else None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=payload, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode() or "{}"
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:300]
            raise TrackingError(f"{method} {path}: HTTP {err.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as err:
            raise TrackingError(f"{method} {path}: {getattr(err, 'reason', err)}") from None
        return json.loads(text)

    def _experiment_id(self) -> str:
        query = urllib.parse.urlencode({"experiment_name": self.experiment})
        try:
            found = self._call("GET", f"/api/2.0/mlflow/experiments/get-by-name?{query}")
            return str(found["experiment"]["experiment_id"])
        except TrackingError as err:
            if "RESOURCE_DOES_NOT_EXIST" not in str(err):
                raise
        created = self._call("POST", "/api/2.0/mlflow/experiments/create", {"name": self.experiment})
        return str(created["experiment_id"])

    def start(self, params: Mapping[str, object]) -> None:
        body: Dict[str, object] = {"experiment_id": self._experiment_id(), "start_time": self._ms()}
        if self.run_name:
            body["run_name"] = self.run_name
        info = self._call("POST", "/api/2.0/mlflow/runs/create", body)["run"]["info"]
        self.run_id, self.artifact_uri = info["run_id"], info.get("artifact_uri", "")
        items = [{"key": k, "value": str(v)} for k, v in params.items()]
        for i in range(0, len(items), MAX_PARAMS_PER_BATCH):
            self._call("POST", "/api/2.0/mlflow/runs/log-batch",
                       {"run_id": self.run_id, "params": items[i : i + MAX_PARAMS_PER_BATCH]})

    def log_metrics(self, metrics: Mapping[str, Optional[float]], step: int) -> None:
        now = self._ms()
        items = [{"key": k, "value": v, "timestamp": now, "step": step} for k, v in _numbers(metrics).items()]
        for i in range(0, len(items), MAX_METRICS_PER_BATCH):
            self._call("POST", "/api/2.0/mlflow/runs/log-batch",
                       {"run_id": self.run_id, "metrics": items[i : i + MAX_METRICS_PER_BATCH]})

    def log_artifacts(self, local_dir: str, artifact_path: str) -> None:
        # Only a proxied artifact store can take uploads over HTTP; others need the MLflow client.
        prefix = "mlflow-artifacts:/"
        if not self.artifact_uri.startswith(prefix):
            raise TrackingError(
                f"artifact store {self.artifact_uri or '(none)'} takes no uploads over the REST API: "
                "install mlflow to log artifacts there"
            )
        root = self.artifact_uri[len(prefix):].strip("/")
        for folder, _, files in sorted(os.walk(local_dir)):
            for name in sorted(files):
                local = os.path.join(folder, name)
                relative = os.path.relpath(local, local_dir).replace(os.sep, "/")
                target = urllib.parse.quote(f"{root}/{artifact_path}/{relative}")
                with open(local, "rb") as f:
                    self._call("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{target}", data=f.read(),
                               content_type="application/octet-stream")

    def end(self, status: str = "FINISHED") -> None:
        self._call("POST", "/api/2.0/mlflow/runs/update",
                   {"run_id": self.run_id, "status": status, "end_time": self._ms()})


class MlflowTracker(Tracker):
    """The MLflow client (with sagemaker-mlflow, a tracking server ARN works as the URI)."""

    def __init__(self, mlflow: object, uri: str, experiment: str, run_name: Optional[str]) -> None:
        self.mlflow = mlflow
        self.uri, self.experiment, self.run_name = uri, experiment, run_name

    def start(self, params: Mapping[str, object]) -> None:
        m = self.mlflow
        m.set_tracking_uri(self.uri)  # type: ignore[attr-defined]
        m.set_experiment(self.experiment)  # type: ignore[attr-defined]
        m.start_run(run_name=self.run_name)  # type: ignore[attr-defined]
        m.log_params({k: str(v) for k, v in params.items()})  # type: ignore[attr-defined]

    def log_metrics(self, metrics: Mapping[str, Optional[float]], step: int) -> None:
        self.mlflow.log_metrics(_numbers(metrics), step=step)  # type: ignore[attr-defined]

    def log_artifacts(self, local_dir: str, artifact_path: str) -> None:
        self.mlflow.log_artifacts(local_dir, artifact_path=artifact_path)  # type: ignore[attr-defined]

    def end(self, status: str = "FINISHED") -> None:
        self.mlflow.end_run(status=status)  # type: ignore[attr-defined]


class Guarded(Tracker):
    """Tracking must not fail training: the first error warns once and turns tracking off."""

    def __init__(self, inner: Tracker, warn: Callable[[str], None]) -> None:
        self.inner: Optional[Tracker] = inner
        self.warn = warn

    def _do(self, what: str, call: Callable[[Tracker], None]) -> None:
        if self.inner is None:
            return
        try:
            call(self.inner)
        except Exception as err:  # noqa: BLE001 - any client error: warn, stop tracking, train on
            self.inner = None
            self.warn(f"experiment tracking off for the rest of this run: {what} failed: {err}")

    def start(self, params: Mapping[str, object]) -> None:
        self._do("starting the run", lambda t: t.start(params))

    def log_metrics(self, metrics: Mapping[str, Optional[float]], step: int) -> None:
        self._do(f"logging metrics of step {step}", lambda t: t.log_metrics(metrics, step))

    def log_artifacts(self, local_dir: str, artifact_path: str) -> None:
        self._do(f"logging {artifact_path}", lambda t: t.log_artifacts(local_dir, artifact_path))

    def end(self, status: str = "FINISHED") -> None:
        self._do(f"ending the run ({status})", lambda t: t.end(status))


def _import_mlflow() -> Optional[object]:
    try:
        import mlflow  # type: ignore[import-not-found]
    except ImportError:
        return None
    return mlflow


def from_env(
    env: Optional[Mapping[str, str]] = None,
    warn: Callable[[str], None] = print,
    import_mlflow: Callable[[], Optional[object]] = _import_mlflow,
    clock: Callable[[], float] = time.time,
) -> Tracker:
    """The tracker the environment asks for (see the module docstring)."""
    env = os.environ if env is None else env
    uri = env.get(ENV["trackingUri"], "")
    if not uri or int(env.get("RANK", "0") or 0) != 0:
        return NoTracking()
    experiment = env.get(ENV["experimentName"]) or "Default"
    run_name = env.get(ENV["runName"]) or env.get("TRAINING_JOB_NAME") or None
    mlflow = import_mlflow()
    if mlflow is not None:
        inner: Tracker = MlflowTracker(mlflow, uri, experiment, run_name)
    elif uri.startswith(("http://", "https://")):
        inner = RestTracker(uri, experiment, run_name, env, clock)
    else:
        warn(f"experiment tracking off: {ENV['trackingUri']}={uri} needs the mlflow package "
             "(and sagemaker-mlflow for a SageMaker tracking server ARN)")
        return NoTracking()
    return Guarded(inner, warn)


def epoch_metrics(row: Mapping[str, float]) -> Dict[str, float]:
    """A history row of the training loop as metrics (the log line's names, less the epoch)."""
    return {k: v for k, v in row.items() if k != "epoch"}


def flat_metrics(prefix: str, values: Mapping[str, object]) -> Dict[str, float]:
    """`{"f1": 0.8, "n": 300}` -> `{"test_f1": 0.8, "test_n": 300.0}`; non-numbers dropped."""
    return _numbers({f"{prefix}_{k}": v for k, v in values.items()})  # type: ignore[misc]

