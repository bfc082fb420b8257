"""Bad data sets fail before training, with a message that names the column."""

import os
import unittest

from ml_trainer.data import DataCheckError

from .helpers import make_root, run_trainer, train_in_process


def _set(column, value, rows=range(0, 1)):
    def mutate(data):
        for i in rows:
            data[i][column] = value

    return mutate


class DataChecksTest(unittest.TestCase):
    def assertFails(self, pattern, **kwargs):
        root = make_root(rows=kwargs.pop("rows", 600), **kwargs)
        with self.assertRaisesRegex(DataCheckError, pattern):
            train_in_process(root, epochs=1)

    def test_fails_when_label_column_is_missing(self):
        self.assertFails(
            r"^data check failed: label column 'outcome' is missing from channel 'train'",
            columns=["tenure_months", "monthly_charges", "support_tickets", "age", "plan", "region", "payment_method"],
        )

    def test_fails_when_feature_column_is_missing(self):
        self.assertFails(
            r"column 'age' is missing from channel 'train'",
            columns=["tenure_months", "monthly_charges", "support_tickets", "plan", "region", "payment_method", "outcome"],
        )

    def test_fails_on_non_numeric_value_in_numeric_column(self):
        self.assertFails(
            r"column 'monthly_charges' is numeric but has non-numeric value 'abc' \(channel 'train', data row 4\)",
            mutate_rows=_set("monthly_charges", "abc", rows=[3]),
        )

    def test_fails_on_missing_values_in_required_column(self):
        self.assertFails(
            r"column 'plan' is required but has 3 missing values",
            mutate_rows=_set("plan", None, rows=[1, 5, 9]),
        )

    def test_fails_on_too_many_missing_values(self):
        self.assertFails(
            r"column 'age' has 6\d\.\d% missing values \(limit 50\.0%",
            mutate_rows=_set("age", None, rows=range(0, 360)),
        )

    def test_fails_on_missing_labels(self):
        self.assertFails(r"label column 'outcome' has 2 missing values", mutate_rows=_set("outcome", None, rows=[0, 1]))

    def test_fails_on_value_outside_declared_range(self):
        self.assertFails(
            r"column 'tenure_months' has value 300 outside its range \[0, 240\]",
            mutate_rows=_set("tenure_months", 300, rows=[7]),
        )

    def test_fails_on_single_class(self):
        self.assertFails(
            r"label column 'outcome' has only one class \('stay'\)",
            mutate_rows=_set("outcome", "stay", rows=range(600)),
        )

    def test_fails_on_too_few_rows_of_a_class(self):
        def keep_five_churners(data):
            churners = [r for r in data if r["outcome"] == "churn"]
            for r in churners[5:]:
                r["outcome"] = "stay"

        self.assertFails(r"label column 'outcome': class 'churn' has 5 rows \(minimum 20\)", mutate_rows=keep_five_churners)

    def test_fails_on_label_outside_declared_labels(self):
        self.assertFails(r"label column 'outcome' has value 'maybe' not in the declared labels", mutate_rows=_set("outcome", "maybe"))

    def test_fails_on_many_duplicate_rows(self):
        def duplicate(data):
            data[100:200] = [dict(data[0]) for _ in range(100)]

        self.assertFails(r"channel 'train': 16\.7% of rows are exact duplicates \(limit 5\.0%\)", mutate_rows=duplicate)

    def test_drops_a_few_duplicate_rows(self):
        def duplicate(data):
            data[100:110] = [dict(data[0]) for _ in range(10)]

        result = run_trainer(make_root(rows=600, mutate_rows=duplicate), "--epochs", "1")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("dropping 10 exact duplicate rows from channel 'train'", result.stdout)
        self.assertIn("train channel: 590 rows", result.stdout)

    def test_fails_on_too_few_rows(self):
        self.assertFails(r"channel 'train' has 50 rows; at least 100 are needed", rows=50)

    def test_writes_the_failure_reason_and_exits_non_zero(self):
        root = make_root(rows=600, mutate_rows=_set("plan", None, rows=[2]))
        result = run_trainer(root, "--epochs", "1")
        self.assertEqual(result.returncode, 1)
        with open(os.path.join(root, "output", "failure"), encoding="utf-8") as f:
            reason = f.read().strip()
        self.assertEqual(reason, "data check failed: column 'plan' is required but has 1 missing values (channel 'train')")
        self.assertIn("ERROR: " + reason, result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_fails_when_the_train_channel_is_absent(self):
        root = make_root(rows=600)
        os.rename(os.path.join(root, "input", "data", "train"), os.path.join(root, "input", "data", "other"))
        with self.assertRaisesRegex(DataCheckError, r"channel 'train' not found"):
            train_in_process(root, epochs=1)


if __name__ == "__main__":
    unittest.main()
