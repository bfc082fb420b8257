/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { main as train } from '../../training/launcher/main';
import { main as modelCli } from '../../training/launcher/model';
import { DUMMY_CREDENTIALS, REGION } from '../training/aws-fixtures';
import { recordingRuntime, tempDir } from '../training/helpers';
import { BUCKET, TEAM, lifecycleSuite } from './fixtures';

const SERVING = path.join(__dirname, '..', '..', 'serving');
const python = process.env.TRAINER_PYTHON ?? '/usr/bin/python3';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Trains the reference model locally (a few epochs); returns the bundle folder. */
async function trainLocally(seed: number): Promise<string> {
  const runtime = recordingRuntime({ TRAINER_PYTHON: python });
  const out = tempDir('e2e-train-');
  const code = await train(
    ['--mode', 'local', '--hp', 'epochs=2', '--hp', `seed=${seed}`, '--out', out],
    runtime,
  );
  if (code !== 0) throw new Error(`training failed: ${runtime.err.join('\n')}`);
  return runtime.out[runtime.out.length - 1];
}

interface Answer {
  readonly status: number;
  readonly version?: string;
}

describe('from an empty store to live traffic and back (moto, the service process, npm run model)', () => {
  const suite = lifecycleSuite('auto');
  let service: ChildProcess;
  let exited: Promise<number>;
  let url = '';
  let logs = '';
  let first: { dir: string; version: string; instance: Record<string, unknown> };
  let second: { dir: string; version: string };
  /** Every answer of the background traffic, from the first ready moment on. */
  const answers: Answer[] = [];
  let stopTraffic = false;
  let traffic: Promise<void> | undefined;

  /** `npm run model -- ...` as a user runs it: the real clock, the moto endpoint. */
  async function model(...args: string[]) {
    const runtime = { ...recordingRuntime(DUMMY_CREDENTIALS), now: () => new Date() };
    const code = await modelCli(
      [...args, '--team', TEAM, '--region', REGION, '--endpoint-url', suite.moto.url, '--json'],
      runtime,
    );
    if (code !== 0) throw new Error(`model ${args.join(' ')}: ${runtime.err.join('\n')}`);
    return JSON.parse(runtime.out.join('\n'));
  }

  async function predict(key: string): Promise<Answer> {
    const res = await fetch(`${url}/v1/models/churn:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-key': key },
      body: JSON.stringify({ instances: [first.instance] }),
    });
    const body = (await res.json()) as { model_version?: string };
    return { status: res.status, version: body.model_version };
  }

  /** Polls until `check` holds (the service polls the aliases every 200 ms). */
  async function until(what: string, check: () => Promise<boolean>, ms = 30_000) {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}:\n${logs.slice(-3000)}`);
      await sleep(100);
    }
  }

  /** Distinct keys' versions; each key asked three times must get one version. */
  async function versionsByKey(keys: number): Promise<Map<string, string>> {
    const byKey = new Map<string, string>();
    for (let i = 0; i < keys; i++) {
      const seen = new Set<string>();
      for (let n = 0; n < 3; n++) {
        const a = await predict(`user-${i}`);
        expect(a.status).toBe(200);
        seen.add(a.version!);
      }
      expect([...seen]).toHaveLength(1);
      byKey.set(`user-${i}`, [...seen][0]);
    }
    return byKey;
  }

  beforeAll(async () => {
    // GIVEN two bundles just trained locally (two training runs: two versions)
    const dir1 = await trainLocally(1);
    const manifest1 = JSON.parse(readFileSync(path.join(dir1, 'manifest.json'), 'utf8'));
    const golden = JSON.parse(readFileSync(path.join(dir1, 'golden.json'), 'utf8'));
    first = { dir: dir1, version: manifest1.version, instance: golden.cases[0].instance };
    const dir2 = await trainLocally(2);
    second = {
      dir: dir2,
      version: JSON.parse(readFileSync(path.join(dir2, 'manifest.json'), 'utf8')).version,
    };
    expect(second.version).not.toBe(first.version);
    // AND the real service started on the model's folder of the empty moto store
    service = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: SERVING,
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: '0',
        SERVING_MODEL_SOURCE: `s3://${BUCKET}/models/churn`,
        SERVING_S3_FORCE_PATH_STYLE: 'true',
        SERVING_POLL_INTERVAL_S: '0.2',
        SERVING_RETRY_FAILED_S: '1',
        SERVING_EMF: 'true',
        SERVING_EMF_SINK: 'cloudwatch',
        SERVING_EMF_INTERVAL_S: '1',
        SERVING_TEAM: TEAM,
        SERVING_STAGE: 'dev',
        SERVING_MODEL_NAME: 'churn',
        AWS_ENDPOINT_URL: suite.moto.url,
        ...DUMMY_CREDENTIALS,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = once(service, 'exit').then(([code]) => code as number);
    service.stdout!.on('data', (d) => (logs += d));
    service.stderr!.on('data', (d) => (logs += d));
    await until('the service to listen', async () => {
      url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(logs)?.[1] ?? '';
      return url !== '';
    });
  });

  afterAll(async () => {
    stopTraffic = true;
    await traffic;
    service?.kill('SIGTERM');
    await exited;
  });

  test('on an empty store the service is live but not ready', async () => {
    expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
    const ready = await fetch(`${url}/v2/health/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toBe('no_model');
  });

  test('publish makes it ready with no restart', async () => {
    const result = await model('publish', first.dir);
    expect(result).toMatchObject({ version: first.version, madeProduction: true });
    await until('ready', async () => (await fetch(`${url}/v2/health/ready`)).status === 200);
    expect((await predict('anyone')).version).toBe(first.version);
    // From here on, background traffic runs through every change; none of it may fail.
    traffic = (async () => {
      for (let i = 0; !stopTraffic && i < 50_000; i++) answers.push(await predict(`bg-${i % 97}`));
    })();
  });

  test('promote --canary 50 splits traffic by key, sticky per key', async () => {
    expect((await model('publish', second.dir)).madeProduction).toBe(false);
    await model('promote', second.version, '--canary', '50');
    await until('the canary to take traffic', async () => {
      for (let i = 0; i < 40; i++)
        if ((await predict(`probe-${i}`)).version === second.version) return true;
      return false;
    });
    const byKey = await versionsByKey(200);
    const share = [...byKey.values()].filter((v) => v === second.version).length / byKey.size;
    expect(share).toBeGreaterThan(0.35);
    expect(share).toBeLessThan(0.65);
    expect(new Set(byKey.values())).toEqual(new Set([first.version, second.version]));
  });

  test('status reads both versions’ traffic from the service’s own CloudWatch metrics', async () => {
    let report: {
      versions: {
        version: string;
        alias: string;
        trafficPercent: number;
        requests?: number;
        errorRate?: number;
      }[];
    } = { versions: [] };
    await until('per-version metrics in CloudWatch', async () => {
      report = await model('status', '--minutes', '10');
      return report.versions.length === 2 && report.versions.every((v) => (v.requests ?? 0) > 0);
    });
    expect(report.versions).toEqual([
      expect.objectContaining({
        version: first.version,
        alias: 'production',
        trafficPercent: 50,
        errorRate: 0,
      }),
      expect.objectContaining({
        version: second.version,
        alias: 'candidate',
        trafficPercent: 50,
        errorRate: 0,
      }),
    ]);
  });

  test('rollback puts the service back on the first version, with no failed request throughout', async () => {
    const result = await model('rollback', '--reason', 'e2e');
    expect(result).toMatchObject({ alias: 'candidate', from: second.version, to: first.version });
    await until('the candidate to leave', async () => {
      for (let i = 0; i < 40; i++)
        if ((await predict(`probe-${i}`)).version !== first.version) return false;
      return true;
    });
    const byKey = await versionsByKey(100);
    expect(new Set(byKey.values())).toEqual(new Set([first.version]));
    stopTraffic = true;
    await traffic;
    // THEN the background traffic saw both versions and not one failed request
    expect(answers.length).toBeGreaterThan(100);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.version))).toEqual(
      new Set([first.version, second.version]),
    );
  });
});
