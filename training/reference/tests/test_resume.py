"""Spot interruption: the trainer is killed mid-run and resumes from /opt/ml/checkpoints."""

import json
import os
import re
import signal
import subprocess
import unittest

import torch

from .helpers import make_root, run_trainer, trainer_command

# Enough epochs that the kill lands mid-run; patience high so early stopping cannot end it first.
ARGS = ("--epochs", "30", "--patience", "100", "--seed", "5")


def read_manifest(root):
    with open(os.path.join(root, "model", "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


class SpotResumeTest(unittest.TestCase):
    def test_resumes_after_a_kill_and_ends_where_an_uninterrupted_run_ends(self):
        root = make_root(rows=3000, seed=3)
        proc = subprocess.Popen(
            trainer_command(*ARGS),
            env={**os.environ, "ML_ROOT": root, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        killed_after = None
        assert proc.stdout is not None
        for line in proc.stdout:
            match = re.match(r"checkpoint saved epoch=(\d+)", line)
            if match and int(match.group(1)) >= 3:
                proc.send_signal(signal.SIGKILL)  # no chance to clean up, like a reclaimed host
                killed_after = int(match.group(1))
                break
        proc.wait(timeout=60)
        proc.stdout.close()
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        self.assertFalse(os.path.exists(os.path.join(root, "model", "manifest.json")))
        saved = torch.load(os.path.join(root, "checkpoints", "checkpoint.pt"), map_location="cpu")
        checkpoint_epoch = saved["state"]["epoch"]
        self.assertGreaterEqual(checkpoint_epoch, killed_after)
        self.assertLess(checkpoint_epoch, 30)

        resumed = run_trainer(root, *ARGS)
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        self.assertIn(f"resumed from checkpoint at epoch {checkpoint_epoch}", resumed.stdout)
        epochs_run = [int(e) for e in re.findall(r"^epoch=(\d+) ", resumed.stdout, re.M)]
        self.assertEqual(epochs_run, list(range(checkpoint_epoch + 1, 31)))

        # Same data and seed without the interruption: the same network comes out.
        fresh = make_root(rows=3000, seed=3)
        uninterrupted = run_trainer(fresh, *ARGS)
        self.assertEqual(uninterrupted.returncode, 0, uninterrupted.stderr)
        self.assertEqual(read_manifest(root)["model"]["sha256"], read_manifest(fresh)["model"]["sha256"])

    def test_ignores_a_checkpoint_from_other_hyperparameters(self):
        root = make_root(rows=600)
        first = run_trainer(root, "--epochs", "2")
        self.assertEqual(first.returncode, 0, first.stderr)
        second = run_trainer(root, "--epochs", "2", "--lr", "0.01")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn("ignoring checkpoint", second.stdout)
        self.assertNotIn("resumed from checkpoint", second.stdout)


if __name__ == "__main__":
    unittest.main()
