import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CloudWatchClient, type Dimension, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from '../src/app';
import { loadConfig } from '../src/config';

export const FIXTURE = join(__dirname, 'fixtures', 'churn');
export const manifest = JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8'));
export const golden = JSON.parse(readFileSync(join(FIXTURE, 'golden.json'), 'utf8'));
export const VERSION: string = manifest.version;

export function config(env: Record<string, string> = {}) {
  return loadConfig({ SERVING_MODEL_SOURCE: FIXTURE, LOG_LEVEL: 'silent', SERVING_POLL_INTERVAL_S: '3600', ...env });
}

/** Builds the app and listens on an ephemeral loopback port. */
export async function listen(env: Record<string, string> = {}, extra: Partial<AppOptions> = {}) {
  const app = await buildApp({ config: config(env), logger: false, ...extra });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  return { app, url: `http://127.0.0.1:${addr.port}` };
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, body: json };
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Keeps `concurrency` clients sending requests until stop() is called; records every status
 * and transport error, and which versions answered.
 */
export function load(send: () => Promise<{ status: number; version: string | null }>, concurrency: number) {
  let stopped = false;
  const statuses = new Map<number, number>();
  const versions = new Map<string, number>();
  const errors: string[] = [];
  let total = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stopped) {
      try {
        const r = await send();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.version) versions.set(r.version, (versions.get(r.version) ?? 0) + 1);
      } catch (e) {
        errors.push(String((e as Error).cause ?? e));
      }
      total++;
    }
  });
  return {
    get total() {
      return total;
    },
    versions,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return { statuses, versions, errors, total };
    },
  };
}

export const instance = { tenure_months: 12, monthly_charges: 80.5, support_calls: 2, age: 40, plan: 'pro', region: 'us' };

export async function predictOnce(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/models/churn:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ instances: [instance] }),
  });
  const body = (await res.json()) as { model_version?: string };
  if (res.status === 200 && body.model_version !== res.headers.get('x-model-version'))
    throw new Error('x-model-version header and body disagree');
  return { status: res.status, version: body.model_version ?? null };
}

/** A real S3-compatible server (moto) on a free loopback port, for one test file. */
export async function startMoto(): Promise<{ endpoint: string; client: S3Client; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc: ChildProcess = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      'moto to start',
      async () => {
        if (proc.exitCode !== null) throw new Error(`moto exited: ${stderr}`);
        try {
          await fetch(`${endpoint}/moto-api/`);
          return true;
        } catch {
          return false;
        }
      },
      30000,
    );
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  return {
    endpoint,
    client,
    async stop() {
      client.destroy();
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await once(proc, 'exit');
      }
    },
  };
}

export async function createBucket(client: S3Client, bucket: string) {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}

export async function put(client: S3Client, bucket: string, key: string, body: string | Buffer) {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** The fixture bundle's files, optionally as another version (same model, new version string). */
export function bundleFiles(version = VERSION, mutate?: (m: any, g: any) => void) {
  const m = structuredClone(manifest);
  const g = structuredClone(golden);
  m.version = version;
  mutate?.(m, g);
  return {
    'manifest.json': JSON.stringify(m),
    'model.onnx': readFileSync(join(FIXTURE, 'model.onnx')),
    'golden.json': JSON.stringify(g),
  } as Record<string, string | Buffer>;
}

export async function closeQuietly(app: FastifyInstance | undefined) {
  if (app) await app.close();
}

/** A CloudWatch client for a test endpoint (moto, or a port that fails): one attempt, test credentials. */
export function cloudWatchClient(endpoint: string): CloudWatchClient {
  return new CloudWatchClient({ endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
}

/**
 * One statistic of MlPlatform/Serving over the last hour. Query with the full
 * [Team, Stage, Model, Version] set: moto matches every metric whose dimensions include the
 * given ones (CloudWatch matches the set exactly), so a [Team, Stage, Model] query would add
 * both sets' datums together.
 */
export async function cloudWatchStatistic(cw: CloudWatchClient, metric: string, dims: Dimension[], stat: 'Sum' | 'Average' | 'Maximum'): Promise<number> {
  const now = Date.now();
  const r = await cw.send(
    new GetMetricStatisticsCommand({
      Namespace: 'MlPlatform/Serving',
      MetricName: metric,
      Dimensions: dims,
      StartTime: new Date(now - 3600e3),
      EndTime: new Date(now + 60e3),
      Period: 3600,
      Statistics: [stat],
    }),
  );
  if (r.Datapoints?.length !== 1) throw new Error(`${metric} ${JSON.stringify(dims)}: expected one datapoint, got ${JSON.stringify(r.Datapoints)}`);
  return r.Datapoints[0]![stat]!;
}

/** Interval metrics on, emitted only when a test flushes them, with Team/Stage dimensions. */
export const CONTRACT_ENV = { SERVING_EMF: 'true', SERVING_EMF_INTERVAL_S: '3600', SERVING_TEAM: 'fraud', SERVING_STAGE: 'dev' };
const contractInstances = [
  instance,
  { ...instance, monthly_charges: 20, plan: 'basic', support_calls: 0 },
  { ...instance, tenure_months: 60, age: 70, region: 'eu' },
  { ...instance, monthly_charges: 110, support_calls: 9, tenure_months: 1 },
];

/** Sends requests of 1, 2 and 4 instances and one 422; returns every prediction's confidence. */
export async function contractTraffic(url: string): Promise<number[]> {
  const confidences: number[] = [];
  for (const batch of [contractInstances.slice(0, 1), contractInstances.slice(0, 2), contractInstances]) {
    const r = await post(`${url}/v1/models/churn:predict`, { instances: batch });
    assert.equal(r.status, 200);
    for (const p of r.body.predictions) confidences.push(p.confidence);
  }
  assert.equal((await post(`${url}/v1/models/churn:predict`, { instances: [{ ...instance, age: 500 }] })).status, 422);
  return confidences;
}

/** The largest input-feature PSI the Prometheus endpoint shows (what MaxFeatureDriftPsi must report). */
export async function maxInputPsi(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const values = [...text.matchAll(/^feature_drift_psi\{[^}]*feature="([^"]+)"[^}]*\} (\S+)$/gm)]
    .filter((m) => m[1] !== '__prediction__')
    .map((m) => Number(m[2]));
  assert.ok(values.length > 0, 'drift is computed');
  return Math.max(...values);
}

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
