import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BundleError, LoadedModel, predictInstances } from '../src/index';
import {
  checkQuality,
  compareOnObjective,
  improvement,
  meetsTarget,
  objectiveIssues,
  OBJECTIVE_METRICS,
  QualityRecordError,
  verdictOf,
} from '../src/bundle/quality';
import { bundleFiles, closeQuietly, golden, listen, manifest, post } from './helpers';

const loaded: LoadedModel[] = [];
after(async () => Promise.all(loaded.map((m) => m.release())));

const filesOf = (files: Record<string, string | Buffer>) => ({
  manifest: Buffer.from(files['manifest.json']!),
  model: Buffer.from(files['model.onnx']!),
  golden: Buffer.from(files['golden.json']!),
});
const instances = golden.cases.map((c: any) => c.instance);
const pChurn = golden.cases.map((c: any) => c.output[1] as number);
const THRESHOLD = 0.2;

/** The fixture with a decision threshold, its golden cases labelled by it. */
const withThreshold = (threshold = THRESHOLD) =>
  bundleFiles(undefined, (m, g) => {
    m.output.threshold = threshold;
    for (const c of g.cases) c.label = c.output[1] >= threshold ? 'churn' : 'stay';
  });

describe('decision threshold (output.threshold)', () => {
  test('a bundle without a threshold keeps argmax labels', async () => {
    assert.equal(manifest.output.threshold, undefined);
    const model = await LoadedModel.load(filesOf(bundleFiles()));
    loaded.push(model);
    const preds = await predictInstances(model, instances);
    preds.forEach((p, n) => assert.equal(p.label, pChurn[n]! > 0.5 ? 'churn' : 'stay', `case ${n}`));
  });

  test('labels positive_label when its probability is >= threshold; confidence stays the max probability', async () => {
    // GIVEN golden cases on both sides of 0.2, some of them between 0.2 and 0.5
    assert.ok(pChurn.some((p: number) => p >= THRESHOLD && p < 0.5));
    const model = await LoadedModel.load(filesOf(withThreshold()));
    loaded.push(model);
    // WHEN
    const preds = await predictInstances(model, instances);
    // THEN
    preds.forEach((p, n) => {
      assert.equal(p.label, pChurn[n]! >= THRESHOLD ? 'churn' : 'stay', `case ${n}`);
      assert.equal(p.confidence, Math.max(...Object.values(p.probabilities!)));
    });
  });

  test('served over HTTP: v1 labels and v2 label outputs follow the threshold', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serving-threshold-'));
    for (const [name, data] of Object.entries(withThreshold())) writeFileSync(join(dir, name), data);
    const { app, url } = await listen({ SERVING_MODEL_SOURCE: dir });
    try {
      const expected = pChurn.map((p: number) => (p >= THRESHOLD ? 'churn' : 'stay'));
      const v1 = await post(`${url}/v1/models/churn:predict`, { instances });
      assert.equal(v1.status, 200);
      assert.deepEqual(
        v1.body.predictions.map((p: any) => p.label),
        expected,
      );
      // v2 with the preprocessed input tensor: the golden feature vectors
      const dim = manifest.model.input_dim;
      const v2 = await post(`${url}/v2/models/churn/infer`, {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [instances.length, dim], data: golden.cases.flatMap((c: any) => c.features) }],
        outputs: [{ name: 'label' }],
      });
      assert.equal(v2.status, 200, JSON.stringify(v2.body));
      assert.deepEqual(v2.body.outputs[0].data, expected);
    } finally {
      await closeQuietly(app);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const refused: Array<[string, Record<string, string | Buffer>, RegExp]> = [
    [
      'a golden label that disagrees with the threshold',
      bundleFiles(undefined, (m, g) => {
        m.output.threshold = THRESHOLD;
        const n = pChurn.findIndex((p: number) => p >= THRESHOLD && p < 0.5);
        for (const c of g.cases) c.label = c.output[1] >= THRESHOLD ? 'churn' : 'stay';
        g.cases[n].label = 'stay'; // what argmax would say
      }),
      /golden case \d+: label is "churn", expected "stay"/,
    ],
    ['a threshold above 1', bundleFiles(undefined, (m) => (m.output.threshold = 1.5)), /output\.threshold: must be in \[0, 1\]/],
    [
      'a threshold on a multiclass task',
      bundleFiles(undefined, (m) => {
        m.task = 'multiclass_classification';
        delete m.output.positive_label;
        m.output.threshold = 0.3;
      }),
      /output\.threshold: only binary classification has a decision threshold/,
    ],
    [
      'a malformed verdict',
      bundleFiles(undefined, (m) => (m.metrics.verdict = { value: 'high' })),
      /metrics\.verdict\.value: Invalid input/,
    ],
    [
      'an unknown objective metric',
      bundleFiles(undefined, (m) => (m.metrics.objective = { metric: 'auc', parameter: null, target: null })),
      /metrics\.objective\.metric/,
    ],
  ];
  for (const [what, files, message] of refused)
    test(`fails on ${what}`, async () => {
      await assert.rejects(LoadedModel.load(filesOf(files)), (e: unknown) => {
        assert.ok(e instanceof BundleError, String(e));
        assert.match(e.message, message);
        return true;
      });
    });

  test('a golden label within atol of the threshold is not held against the model', async () => {
    const n = 5;
    const files = bundleFiles(undefined, (m, g) => {
      m.output.threshold = g.cases[n].output[1] + golden.atol / 2;
      for (const c of g.cases) c.label = c.output[1] >= m.output.threshold ? 'churn' : 'stay';
      g.cases[n].label = 'churn'; // on the knife's edge: either label is a rounding away
    });
    const model = await LoadedModel.load(filesOf(files));
    loaded.push(model);
  });
});

/** A manifest's quality keys as the trainer writes them. */
function recorded(verdict: Record<string, unknown>, target: number | null = 0.85) {
  return {
    metrics: {
      objective: { metric: 'precision_at_recall', parameter: 0.9, target },
      verdict: {
        value: 0.41,
        target_met: target === null ? null : 0.41 >= target,
        best_baseline: 'logistic_regression',
        best_baseline_value: 0.4,
        margin: 0.01,
        beats_baselines: true,
        ...verdict,
      },
    },
  };
}

describe('quality: objective, verdict and the publish check', () => {
  test('objectiveIssues names the field: unknown metric, parameter out of range, target out of range', () => {
    assert.deepEqual(objectiveIssues({ metric: 'auc', target: 0.8 }), [
      {
        field: 'metric',
        message: 'unknown metric "auc": use one of roc_auc, f1, precision_at_recall, recall_at_precision, accuracy, mae, rmse',
      },
    ]);
    assert.deepEqual(objectiveIssues({ metric: 'precision_at_recall', parameter: 1.5, target: 0.8 }), [
      { field: 'parameter', message: 'must be a recall in (0, 1], got 1.5' },
    ]);
    assert.deepEqual(objectiveIssues({ metric: 'precision_at_recall', target: 0.8 }), [
      { field: 'parameter', message: 'precision_at_recall needs a parameter: the minimum recall, in (0, 1]' },
    ]);
    assert.deepEqual(objectiveIssues({ metric: 'f1', parameter: 0.5, target: 0.8 }), [
      { field: 'parameter', message: 'f1 takes no parameter' },
    ]);
    assert.deepEqual(objectiveIssues({ metric: 'roc_auc', target: 1.2 }), [
      { field: 'target', message: 'must be in [0, 1] for roc_auc, got 1.2' },
    ]);
    assert.deepEqual(objectiveIssues({ metric: 'mae', target: -1 }), [
      { field: 'target', message: 'must be in [0, ∞] for mae, got -1' },
    ]);
    assert.deepEqual(objectiveIssues({ metric: 'recall_at_precision', parameter: 0.8, target: 0.5 }), []);
  });

  test('improvement and meetsTarget follow each metric’s direction', () => {
    assert.equal(OBJECTIVE_METRICS.rmse.better, 'lower');
    assert.ok(improvement('rmse', 1.0, 1.5) > 0);
    assert.ok(improvement('roc_auc', 0.8, 0.7) > 0);
    assert.equal(meetsTarget('mae', 2, 2), true);
    assert.equal(meetsTarget('mae', 2.1, 2), false);
    assert.equal(meetsTarget('f1', 0.7, 0.8), false);
  });

  test('verdictOf reads the recorded verdict; undefined for an older bundle; throws on a malformed one', () => {
    assert.equal(verdictOf(manifest), undefined);
    assert.equal(verdictOf(recorded({}))!.verdict.margin, 0.01);
    assert.throws(
      () => verdictOf({ metrics: { objective: recorded({}).metrics.objective } }),
      (e: unknown) => e instanceof QualityRecordError && /metrics\.verdict: Invalid input/.test(e.message),
    );
  });

  test('checkQuality passes a met target and a beaten baseline silently', () => {
    const check = checkQuality(recorded({}, 0.4), { requireTarget: true });
    assert.deepEqual(check.warnings, []);
    assert.equal(check.refusal, undefined);
  });

  test('checkQuality warns on a missed target and an unbeaten baseline, and refuses only with requireTarget', () => {
    const manifestMissing = recorded({ beats_baselines: false, margin: -0.02, best_baseline_value: 0.43 });
    assert.deepEqual(checkQuality(manifestMissing).warnings, [
      'precision_at_recall (recall >= 0.9) is 0.41 on the test split: target 0.85 missed by 0.44',
      'the model does not beat the logistic_regression baseline on precision_at_recall (recall >= 0.9): 0.41 vs 0.43',
    ]);
    assert.equal(checkQuality(manifestMissing).refusal, undefined);
    assert.equal(
      checkQuality(manifestMissing, { requireTarget: true }).refusal,
      'refusing to publish (--require-target): precision_at_recall (recall >= 0.9) is 0.41 on the test split: target 0.85 missed by 0.44',
    );
  });

  test('compareOnObjective gives the candidate’s improvement on the shared objective, and refuses different ones', () => {
    const comparison = compareOnObjective(recorded({ value: 0.45 }), recorded({ value: 0.41 }));
    assert.equal(comparison.objective.metric, 'precision_at_recall');
    assert.ok(Math.abs(comparison.improvement - 0.04) < 1e-12);
    const rmse = (value: number) => ({
      metrics: {
        objective: { metric: 'rmse', parameter: null, target: null },
        verdict: { ...recorded({}).metrics.verdict, value, target_met: null },
      },
    });
    assert.ok(compareOnObjective(rmse(1.0), rmse(1.5)).improvement > 0); // lower is better
    const otherRecall = recorded({});
    otherRecall.metrics.objective.parameter = 0.8;
    assert.throws(
      () => compareOnObjective(otherRecall, recorded({})),
      /the objectives differ: candidate precision_at_recall \(recall >= 0.8\), reference precision_at_recall \(recall >= 0.9\)/,
    );
    assert.throws(() => compareOnObjective(recorded({}), manifest), /the reference records no objective value/);
  });

  test('requireTarget refuses a bundle with no target or no verdict at all', () => {
    assert.match(checkQuality(recorded({}, null), { requireTarget: true }).refusal!, /no target is set for precision_at_recall/);
    assert.match(checkQuality(manifest, { requireTarget: true }).refusal!, /records no objective or verdict/);
    assert.equal(checkQuality(manifest).refusal, undefined);
  });
});
