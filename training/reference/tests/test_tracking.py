"""Experiment tracking at MLflow's REST boundary: a real HTTP server on loopback records every
request, and the tests assert them exactly (MLflow itself cannot run here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import unittest
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

from ml_trainer import tracking
from ml_trainer.contract import Hyperparameters

from .helpers import make_root, trainer_command

RUN_ID = "run-1"
ARTIFACT_URI = "mlflow-artifacts:/7/run-1/artifacts"


class FakeMlflowServer:
    """Just enough of MLflow's REST API 2.0; `fail` maps a path to the HTTP status it answers."""

    def __init__(self, experiment_exists: bool = False, fail: Optional[Dict[str, int]] = None) -> None:
        self.requests: List[Tuple[str, str, object, Dict[str, str]]] = []
        self.uploads: Dict[str, bytes] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path
                if path.startswith("/api/2.0/mlflow-artifacts/"):
                    server.uploads[path] = raw
                    body: object = len(raw)
                else:
                    body = json.loads(raw) if raw else None
                headers = {k: self.headers[k] for k in ("Content-Type", "Authorization") if self.headers[k]}
                server.requests.append((self.command, path, body, headers))
                status = (fail or {}).get(path.split("?")[0])
                if status:
                    return self._reply(status, {"error_code": "INTERNAL_ERROR", "message": "boom"})
                if path.startswith("/api/2.0/mlflow/experiments/get-by-name"):
                    if experiment_exists:
                        return self._reply(200, {"experiment": {"experiment_id": "7"}})
                    return self._reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such experiment"})
                if path == "/api/2.0/mlflow/experiments/create":
                    return self._reply(200, {"experiment_id": "7"})
                if path == "/api/2.0/mlflow/runs/create":
                    return self._reply(200, {"run": {"info": {"run_id": RUN_ID, "artifact_uri": ARTIFACT_URI}}})
                return self._reply(200, {})

            do_GET = do_POST = do_PUT = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeMlflowServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def calls(self) -> List[Tuple[str, str]]:
        return [(method, path) for method, path, _, _ in self.requests]


class RestTrackerTest(unittest.TestCase):
    def test_sends_the_exact_rest_requests_of_a_run(self) -> None:
        # GIVEN a server without the experiment and a fixed clock
        with FakeMlflowServer() as server:
            tracker = tracking.RestTracker(
                server.url, "fraud-dev", "fraud-dev-train-1", {"MLFLOW_TRACKING_TOKEN": "t0k"}, clock=lambda: 1700000000.5
            )
            bundle = make_root(rows=10)  # any folder: its files are the artifacts
            model_dir = os.path.join(bundle, "input", "data")
            # WHEN
            tracker.start({"epochs": 3, "lr": 0.01})
            tracker.log_metrics({"train_loss": 0.5, "val_roc_auc": None, "lr": 0.01}, step=1)
            tracker.log_artifacts(model_dir, "model")
            tracker.end("FINISHED")
        # THEN
        json_headers = {"Content-Type": "application/json", "Authorization": "Bearer t0k"}
        self.assertEqual(
            server.requests,
            [
                ("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=fraud-dev", None, json_headers),
                ("POST", "/api/2.0/mlflow/experiments/create", {"name": "fraud-dev"}, json_headers),
                (
                    "POST",
                    "/api/2.0/mlflow/runs/create",
                    {"experiment_id": "7", "start_time": 1700000000500, "run_name": "fraud-dev-train-1"},
                    json_headers,
                ),
                (
                    "POST",
                    "/api/2.0/mlflow/runs/log-batch",
                    {"run_id": RUN_ID, "params": [{"key": "epochs", "value": "3"}, {"key": "lr", "value": "0.01"}]},
                    json_headers,
                ),
                (
                    "POST",
                    "/api/2.0/mlflow/runs/log-batch",
                    {
                        "run_id": RUN_ID,
                        "metrics": [
                            {"key": "train_loss", "value": 0.5, "timestamp": 1700000000500, "step": 1},
                            {"key": "lr", "value": 0.01, "timestamp": 1700000000500, "step": 1},
                        ],
                    },
                    json_headers,
                ),
                (
                    "PUT",
                    "/api/2.0/mlflow-artifacts/artifacts/7/run-1/artifacts/model/train/schema.json",
                    len(server.uploads["/api/2.0/mlflow-artifacts/artifacts/7/run-1/artifacts/model/train/schema.json"]),
                    {"Content-Type": "application/octet-stream", "Authorization": "Bearer t0k"},
                ),
                (
                    "PUT",
                    "/api/2.0/mlflow-artifacts/artifacts/7/run-1/artifacts/model/train/train.csv",
                    len(server.uploads["/api/2.0/mlflow-artifacts/artifacts/7/run-1/artifacts/model/train/train.csv"]),
                    {"Content-Type": "application/octet-stream", "Authorization": "Bearer t0k"},
                ),
                (
                    "POST",
                    "/api/2.0/mlflow/runs/update",
                    {"run_id": RUN_ID, "status": "FINISHED", "end_time": 1700000000500},
                    json_headers,
                ),
            ],
        )
        with open(os.path.join(model_dir, "train", "train.csv"), "rb") as f:
            self.assertEqual(server.uploads["/api/2.0/mlflow-artifacts/artifacts/7/run-1/artifacts/model/train/train.csv"], f.read())

    def test_uses_an_existing_experiment_and_batches_at_mlflows_limit(self) -> None:
        with FakeMlflowServer(experiment_exists=True) as server:
            tracker = tracking.RestTracker(server.url, "fraud-dev", None, {}, clock=lambda: 1.0)
            tracker.start({f"p{i}": i for i in range(150)})
        self.assertEqual(
            server.calls(),
            [
                ("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=fraud-dev"),
                ("POST", "/api/2.0/mlflow/runs/create"),
                ("POST", "/api/2.0/mlflow/runs/log-batch"),
                ("POST", "/api/2.0/mlflow/runs/log-batch"),
            ],
        )
        self.assertEqual(server.requests[1][2], {"experiment_id": "7", "start_time": 1000})  # no run name
        self.assertEqual([len(r[2]["params"]) for r in server.requests[2:]], [100, 50])  # type: ignore[index]


def _env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k != "RANK"}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


class TrainerTrackingTest(unittest.TestCase):
    """The trainer as SageMaker runs it (a subprocess), logging to the loopback server."""

    def _train(self, server: FakeMlflowServer, root: str, *args: str) -> subprocess.CompletedProcess:
        env = _env(
            ML_ROOT=root,
            MLFLOW_TRACKING_URI=server.url,
            MLFLOW_EXPERIMENT_NAME="fraud-dev",
            MLFLOW_RUN_NAME="fraud-dev-train-1",
        )
        return subprocess.run(trainer_command(*args), env=env, capture_output=True, text=True, timeout=300)

    def test_logs_parameters_per_epoch_metrics_the_test_metrics_and_the_bundle(self) -> None:
        root = make_root()
        with FakeMlflowServer() as server:
            done = self._train(server, root, "--epochs", "3", "--patience", "10")
        self.assertEqual(done.returncode, 0, done.stderr)
        calls = server.calls()
        self.assertEqual(
            calls[:4],
            [
                ("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=fraud-dev"),
                ("POST", "/api/2.0/mlflow/experiments/create"),
                ("POST", "/api/2.0/mlflow/runs/create"),
                ("POST", "/api/2.0/mlflow/runs/log-batch"),
            ],
        )
        self.assertEqual(server.requests[2][2]["run_name"], "fraud-dev-train-1")  # type: ignore[index]
        # Every hyperparameter, as the trainer resolved it
        expected_params = [{"key": k, "value": str(v)} for k, v in asdict(Hyperparameters(epochs=3, patience=10)).items()]
        self.assertEqual(server.requests[3][2], {"run_id": RUN_ID, "params": expected_params})

        metric_batches = [r[2]["metrics"] for r in server.requests if r[1].endswith("log-batch") and "metrics" in r[2]]  # type: ignore[index,operator]
        # one batch per epoch, steps 1..3, with the log line's names; then the test metrics
        self.assertEqual([[m["step"] for m in batch][0] for batch in metric_batches], [1, 2, 3, metric_batches[3][0]["step"]])
        for batch in metric_batches[:3]:
            self.assertEqual({m["key"] for m in batch}, {"train_loss", "val_loss", "lr", "val_accuracy", "val_roc_auc"})
        with open(os.path.join(root, "model", "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        final = {m["key"]: m["value"] for m in metric_batches[3]}
        self.assertEqual(final["test_f1"], manifest["metrics"]["test"]["f1"])
        self.assertEqual(final["test_roc_auc"], manifest["metrics"]["test"]["roc_auc"])
        self.assertIn(metric_batches[3][0]["step"], (1, 2, 3))

        # The bundle, file by file, byte for byte
        prefix = "/api/2.0/mlflow-artifacts/artifacts/7/run-1/artifacts/model/"
        bundle_files = sorted(os.listdir(os.path.join(root, "model")))
        self.assertEqual(sorted(p[len(prefix):] for p in server.uploads), bundle_files)
        for name in bundle_files:
            with open(os.path.join(root, "model", name), "rb") as f:
                self.assertEqual(server.uploads[prefix + name], f.read(), name)
        self.assertEqual(calls[-1], ("POST", "/api/2.0/mlflow/runs/update"))
        self.assertEqual(server.requests[-1][2]["status"], "FINISHED")  # type: ignore[index]

    def test_a_failed_run_is_ended_failed(self) -> None:
        root = make_root()
        with FakeMlflowServer(experiment_exists=True) as server:
            done = self._train(server, root, "--target", "no_such_column")
        self.assertEqual(done.returncode, 1)
        self.assertEqual(server.calls()[-1], ("POST", "/api/2.0/mlflow/runs/update"))
        self.assertEqual(server.requests[-1][2]["status"], "FAILED")  # type: ignore[index]

    def test_a_tracking_server_error_warns_once_and_training_goes_on(self) -> None:
        root = make_root()
        with FakeMlflowServer(experiment_exists=True, fail={"/api/2.0/mlflow/runs/log-batch": 500}) as server:
            done = self._train(server, root, "--epochs", "2")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertTrue(os.path.isfile(os.path.join(root, "model", "manifest.json")))
        # The params batch failed: nothing after it
        self.assertEqual(
            server.calls(),
            [
                ("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=fraud-dev"),
                ("POST", "/api/2.0/mlflow/runs/create"),
                ("POST", "/api/2.0/mlflow/runs/log-batch"),
            ],
        )
        warnings = [line for line in done.stdout.splitlines() if line.startswith("experiment tracking off")]
        self.assertEqual(len(warnings), 1)
        self.assertRegex(warnings[0], r"^experiment tracking off for the rest of this run: starting the run failed: "
                                      r"POST /api/2.0/mlflow/runs/log-batch: HTTP 500: ")


class FromEnvTest(unittest.TestCase):
    def test_no_uri_means_no_tracking(self) -> None:
        self.assertIsInstance(tracking.from_env({}), tracking.NoTracking)

    def test_only_rank_0_of_a_distributed_job_logs(self) -> None:
        env = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:1"}
        self.assertIsInstance(tracking.from_env({**env, "RANK": "1"}, import_mlflow=lambda: None), tracking.NoTracking)
        self.assertIsInstance(tracking.from_env({**env, "RANK": "0"}, import_mlflow=lambda: None), tracking.Guarded)

    def test_a_tracking_server_arn_without_mlflow_warns_and_trains_untracked(self) -> None:
        warnings: List[str] = []
        arn = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/mlp-fraud-prod"
        tracker = tracking.from_env({"MLFLOW_TRACKING_URI": arn}, warn=warnings.append, import_mlflow=lambda: None)
        self.assertIsInstance(tracker, tracking.NoTracking)
        self.assertEqual(
            warnings,
            [f"experiment tracking off: MLFLOW_TRACKING_URI={arn} needs the mlflow package "
             "(and sagemaker-mlflow for a SageMaker tracking server ARN)"],
        )

    def test_uses_the_mlflow_client_where_it_is_importable(self) -> None:
        # GIVEN an mlflow module that records its calls (the real one is in the SageMaker image)
        calls: List[Tuple[str, tuple, dict]] = []

        class RecordingMlflow:
            def __getattr__(self, name: str):  # noqa: ANN204
                return lambda *args, **kwargs: calls.append((name, args, kwargs))

        arn = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/mlp-fraud-prod"
        env = {"MLFLOW_TRACKING_URI": arn, "MLFLOW_EXPERIMENT_NAME": "fraud-prod", "TRAINING_JOB_NAME": "fraud-prod-tune-1-003-abc"}
        tracker = tracking.from_env(env, import_mlflow=RecordingMlflow)
        # WHEN
        tracker.start({"epochs": 3})
        tracker.log_metrics({"val_loss": 0.25, "val_roc_auc": None}, step=2)
        tracker.log_artifacts("/opt/ml/model", "model")
        tracker.end("FINISHED")
        # THEN the ARN is the tracking URI, and the job name (a tuning trial) names the run
        self.assertEqual(
            calls,
            [
                ("set_tracking_uri", (arn,), {}),
                ("set_experiment", ("fraud-prod",), {}),
                ("start_run", (), {"run_name": "fraud-prod-tune-1-003-abc"}),
                ("log_params", ({"epochs": "3"},), {}),
                ("log_metrics", ({"val_loss": 0.25},), {"step": 2}),
                ("log_artifacts", ("/opt/ml/model",), {"artifact_path": "model"}),
                ("end_run", (), {"status": "FINISHED"}),
            ],
        )


if __name__ == "__main__":
    unittest.main()
