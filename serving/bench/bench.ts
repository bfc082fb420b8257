import { type ChildProcess, spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { loadBundleDir } from '../src/index';

/**
 * npm run bench: autocannon against the service (compiled, plain node, production settings:
 * API-key auth, sampled JSON access logs, metrics, drift, feedback memory) and against bare
 * node:http servers running the same model (one run per request, and BARE_BATCH: requests of one
 * event-loop turn in one run), at 1/16/64 connections, for /v1 and OIP v2, one instance and 32.
 * BENCH_BASE=<checkout>: the service as built from that checkout (e.g. a `git worktree` of main)
 * runs in the same rounds, so "before" and "after" share the machine's moment.
 * Servers take turns per cell (interleaved), BENCH_ROUNDS rounds; medians are reported.
 * Then the heavy bundle (bench/make-heavy-bundle.py, a batch ≥ 20 ms): probe and /metrics
 * latency while the service is under full inference load. Also cold start, RSS, and access-log
 * bytes per 1000 requests. Writes .bench/results.json and prints Markdown tables.
 */
const ROOT = join(__dirname, '..');
const BUNDLE = join(ROOT, 'test', 'fixtures', 'churn');
const HEAVY = join(ROOT, '.bench', 'heavy');
/** Hidden width of the heavy bundle; unset: from 4096, widened until a 16-row batch takes >= 20 ms here. */
const HEAVY_HIDDEN = process.env.BENCH_HEAVY_HIDDEN;
const HEAVY_MIN_BATCH_MS = 20;
const DURATION = Number(process.env.BENCH_DURATION_S ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BASE = process.env.BENCH_BASE;
const KEY = 'bench-key-0123456789abcdef';
const children: ChildProcess[] = [];
const golden = JSON.parse(readFileSync(join(BUNDLE, 'golden.json'), 'utf8'));
const instances = golden.cases.map((c: { instance: unknown }) => c.instance);
const features: number[][] = golden.cases.map((c: { features: number[] }) => c.features);
const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => i % instances.length);
const v1Body = (n: number) => JSON.stringify({ instances: rowsOf(n).map((i) => instances[i]) });
const v2Body = (n: number) =>
  JSON.stringify({ inputs: [{ name: 'input', shape: [n, features[0]!.length], datatype: 'FP32', data: rowsOf(n).flatMap((i) => features[i]!) }] });

interface Server {
  name: string;
  proc: ChildProcess;
  coldStartMs: number;
  port: number;
  stdoutBytes: number;
}

function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function start(name: string, cmd: string[], env: Record<string, string>, port: number, service: boolean): Promise<Server> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, cmd, { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const server: Server = { name, proc, coldStartMs: 0, port, stdoutBytes: 0 };
  proc.stdout!.on('data', (d: Buffer) => (server.stdoutBytes += d.length));
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
      await r.arrayBuffer();
      if (r.status === 200 || !service) break; // the bare servers have no health route
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null) throw new Error(`${name}: ${cmd.join(' ')} exited ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  server.coldStartMs = performance.now() - t0;
  return server;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (a: number, b: number) => `${Math.round((a / b) * 100)}%`;

async function cannon(url: string, body: string, connections: number, headers: Record<string, string>, duration = DURATION) {
  const r = await autocannon({ url, method: 'POST', body, connections, duration, headers: { 'content-type': 'application/json', ...headers } });
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p99: r.latency.p99, total: r.requests.total };
}

/** The image's ENTRYPOINT (the Dockerfile's exec form) on a checkout's dist/: the service as the container starts it. */
function serviceCmd(checkout: string): string[] {
  const dockerfile = readFileSync(join(checkout, 'serving', 'Dockerfile'), 'utf8');
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  if (!entry) throw new Error(`${checkout}/serving/Dockerfile: no exec-form ENTRYPOINT`);
  const [node, ...args] = JSON.parse(entry[1]!) as string[];
  if (node !== 'node') throw new Error(`${checkout}/serving/Dockerfile: ENTRYPOINT must start with node, got ${node}`);
  return args.map((a) => (a.startsWith('dist/') ? join(checkout, 'serving', a) : a));
}

/** Probes a URL every 20 ms while `during` runs; latency percentiles and failures (> 1 s or non-200). */
async function probeWhile(urls: string[], during: Promise<unknown>) {
  const lat: Record<string, number[]> = Object.fromEntries(urls.map((u) => [u, []]));
  const failed: Record<string, number> = Object.fromEntries(urls.map((u) => [u, 0]));
  let done = false;
  void during.finally(() => (done = true));
  while (!done) {
    for (const u of urls) {
      const t = performance.now();
      try {
        const r = await fetch(u, { signal: AbortSignal.timeout(1000) });
        await r.arrayBuffer();
        if (r.status !== 200) failed[u]!++;
      } catch {
        failed[u]!++;
      }
      lat[u]!.push(performance.now() - t);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await during;
  return urls.map((u) => {
    const s = [...lat[u]!].sort((a, b) => a - b);
    const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10;
    return { url: u.replace(/^http:\/\/[^/]+/, ''), probes: s.length, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1), failed: failed[u]! };
  });
}

async function main() {
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  if (BASE) execFileSync('npx', ['tsc', '-p', join(BASE, 'serving', 'tsconfig.json')], { cwd: ROOT, stdio: 'inherit' });
  const load = loadavg()[0]!.toFixed(1);
  const serviceEnv = { SERVING_API_KEYS: KEY, HOST: '127.0.0.1', LOG_LEVEL: 'info' };
  const servers: Server[] = [await start('service', serviceCmd(join(ROOT, '..')), { ...serviceEnv, SERVING_MODEL_SOURCE: BUNDLE }, 18181, true)];
  if (BASE) servers.push(await start('before', serviceCmd(BASE), { ...serviceEnv, SERVING_MODEL_SOURCE: BUNDLE }, 18183, true));
  const bare = await start('bare', ['--import', 'tsx', 'bench/bare-server.ts'], { BUNDLE }, 18182, false);
  const bareBatch = await start('bare-batch', ['--import', 'tsx', 'bench/bare-server.ts'], { BUNDLE, BARE_BATCH: '1' }, 18184, false);
  const idleRss = rssMb(servers[0]!.proc.pid!);
  const auth = { authorization: `Bearer ${KEY}` };
  const cells = [
    { api: 'v1', rows: 1 },
    { api: 'v1', rows: 32 },
    { api: 'v2', rows: 1 },
    { api: 'v2', rows: 32 },
  ] as const;
  const urlOf = (s: Server, api: 'v1' | 'v2') =>
    s === bare || s === bareBatch
      ? `http://127.0.0.1:${s.port}/${api === 'v1' ? 'predict' : 'v2'}`
      : `http://127.0.0.1:${s.port}/${api === 'v1' ? 'v1/models/churn:predict' : 'v2/models/churn/infer'}`;
  const all = [...servers, bare, bareBatch];
  const rows: Array<Record<string, string | number>> = [];
  const requestsOf: Record<string, number> = {};
  const logStart = servers.map((s) => s.stdoutBytes);
  try {
    // Steady state, not JIT warm-up: every server gets the same traffic first.
    for (const cell of cells)
      for (const s of all) await cannon(urlOf(s, cell.api), cell.api === 'v1' ? v1Body(cell.rows) : v2Body(cell.rows), 16, s === bare || s === bareBatch ? {} : auth, 2);
    for (const cell of cells)
      for (const c of [1, 16, 64]) {
        const body = cell.api === 'v1' ? v1Body(cell.rows) : v2Body(cell.rows);
        const runs: Record<string, { rps: number[]; p99: number[] }> = Object.fromEntries(all.map((s) => [s.name, { rps: [], p99: [] }]));
        for (let round = 0; round < ROUNDS; round++)
          for (const s of all) {
            const r = await cannon(urlOf(s, cell.api), body, c, s === bare || s === bareBatch ? {} : auth);
            runs[s.name]!.rps.push(r.rps);
            runs[s.name]!.p99.push(r.p99);
            requestsOf[s.name] = (requestsOf[s.name] ?? 0) + r.total;
          }
        const m = (name: string) => median(runs[name]!.rps);
        const row: Record<string, string | number> = {
          api: cell.api,
          instances: cell.rows,
          connections: c,
          service_rps: Math.round(m('service')),
          service_p99_ms: median(runs.service!.p99),
          ...(BASE ? { before_rps: Math.round(m('before')), service_vs_before: pct(m('service'), m('before')) } : {}),
          bare_rps: Math.round(m('bare')),
          bare_batch_rps: Math.round(m('bare-batch')),
          vs_bare: pct(m('service'), m('bare')),
          vs_bare_batch: pct(m('service'), m('bare-batch')),
          ...(BASE ? { before_vs_bare: pct(m('before'), m('bare')), before_vs_bare_batch: pct(m('before'), m('bare-batch')) } : {}),
        };
        rows.push(row);
        process.stderr.write(`${JSON.stringify(row)}\n`);
      }
  } finally {
    const loadedRss = rssMb(servers[0]!.proc.pid!);
    // Access-log bytes per 1000 requests of the measured rounds (stdout is the log stream).
    const logPer1000 = servers.map((s, i) => Math.round(((s.stdoutBytes - logStart[i]!) / (requestsOf[s.name] ?? 1)) * 1000));
    const baseRss = BASE ? rssMb(servers[1]!.proc.pid!) : undefined;
    for (const s of all) s.proc.kill('SIGTERM');
    Object.assign(summary, {
      cold_start_to_ready_ms: Math.round(servers[0]!.coldStartMs),
      before_cold_start_to_ready_ms: BASE ? Math.round(servers[1]!.coldStartMs) : undefined,
      rss_idle_mb: Math.round(idleRss.rss),
      rss_after_load_mb: Math.round(loadedRss.rss),
      rss_peak_mb: Math.round(loadedRss.peak),
      before_rss_after_load_mb: baseRss && Math.round(baseRss.rss),
      log_bytes_per_1000_requests: logPer1000[0],
      before_log_bytes_per_1000_requests: BASE ? logPer1000[1] : undefined,
      rows,
    });
  }
  summary.heavy = await heavy();
  writeFileSync(join(ROOT, '.bench', 'results.json'), JSON.stringify(summary, null, 2));
  print(load);
}

const summary: Record<string, unknown> = {
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  duration_s_per_run: DURATION,
  rounds: ROUNDS,
};

/** Generates the heavy bundle at `hidden` and returns the median time of one 16-row batch. */
async function makeHeavy(hidden: number): Promise<number> {
  execFileSync('/usr/bin/python3', [join(ROOT, 'bench', 'make-heavy-bundle.py'), HEAVY, String(hidden)]);
  const model = await loadBundleDir(HEAVY);
  const batch = new Float32Array(16 * model.preprocessor.dim).fill(0.5);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    await model.run(batch, 16);
    times.push(performance.now() - t);
  }
  await model.release();
  return median(times);
}

/** The heavy bundle under 16 connections: its batch time, and probes while it is busy. */
async function heavy() {
  // The run time grows with hidden²: widen by the square root of the shortfall (cap 8192).
  let hidden = Number(HEAVY_HIDDEN ?? 4096);
  let ms = await makeHeavy(hidden);
  while (!HEAVY_HIDDEN && ms < HEAVY_MIN_BATCH_MS && hidden < 8192) {
    hidden = Math.min(8192, Math.ceil((hidden * Math.sqrt((HEAVY_MIN_BATCH_MS * 1.2) / ms)) / 256) * 256);
    ms = await makeHeavy(hidden);
  }
  const result: Record<string, unknown> = { hidden, batch16_run_ms: Math.round(ms * 10) / 10, runs: [] };
  const variants: Array<[string, string[], Record<string, string>]> = [['service', serviceCmd(join(ROOT, '..')), {}]];
  if (BASE) variants.push(['before', serviceCmd(BASE), {}]);
  for (const [name, cmd, env] of variants) {
    const s = await start(name, cmd, { SERVING_API_KEYS: KEY, HOST: '127.0.0.1', SERVING_MODEL_SOURCE: HEAVY, ...env }, 18185, true);
    const base = `http://127.0.0.1:${s.port}`;
    const during = cannon(`${base}/v1/models/churn:predict`, v1Body(1), 16, { authorization: `Bearer ${KEY}` }, DURATION * 2);
    const probes = await probeWhile([`${base}/v2/health/ready`, `${base}/metrics`], during);
    const load = await during;
    (result.runs as unknown[]).push({ server: name, predict_rps: Math.round(load.rps), probes });
    s.proc.kill('SIGTERM');
    await new Promise((r) => s.proc.once('exit', r));
  }
  return result;
}

function print(load: string) {
  const rows = summary.rows as Array<Record<string, string | number>>;
  console.log(`\n${summary.machine}; load average ${load} at start; ${DURATION} s per run, ${ROUNDS} interleaved rounds, medians\n`);
  const cols = Object.keys(rows[0] ?? {});
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map((c) => r[c]).join(' | ')} |`);
  console.log(
    `\ncold start to ready: ${summary.cold_start_to_ready_ms} ms${BASE ? ` (before: ${summary.before_cold_start_to_ready_ms} ms)` : ''}; RSS idle ${summary.rss_idle_mb} MB, after load ${summary.rss_after_load_mb} MB${BASE ? ` (before: ${summary.before_rss_after_load_mb} MB)` : ''}, peak ${summary.rss_peak_mb} MB; access-log bytes per 1000 requests: ${summary.log_bytes_per_1000_requests}${BASE ? ` (before: ${summary.before_log_bytes_per_1000_requests})` : ''}`,
  );
  const h = summary.heavy as { hidden: number; batch16_run_ms: number; runs: Array<{ server: string; predict_rps: number; probes: Array<Record<string, unknown>> }> };
  console.log(`\nheavy bundle (hidden ${h.hidden}): one 16-row batch ${h.batch16_run_ms} ms; under 16 connections of /v1 predictions:\n`);
  console.log('| server | predict req/s | probe | probes | p50 ms | p99 ms | max ms | failed |');
  console.log('|---|---:|---|---:|---:|---:|---:|---:|');
  for (const r of h.runs) for (const p of r.probes) console.log(`| ${r.server} | ${r.predict_rps} | ${p.url} | ${p.probes} | ${p.p50_ms} | ${p.p99_ms} | ${p.max_ms} | ${p.failed} |`);
}

process.on('exit', () => {
  for (const p of children) if (p.exitCode === null) p.kill('SIGKILL');
});

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
