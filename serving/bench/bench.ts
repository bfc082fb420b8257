import { type ChildProcess, spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';

/**
 * npm run bench: autocannon against the service (compiled, plain node, production settings:
 * API key auth, JSON logs, metrics, drift) and against a bare node:http server running the same
 * model, one after the other on this machine, at 1/16/64 connections, single and batch-of-32.
 * Also cold start to ready and RSS. Writes .bench/results.json and prints a Markdown table.
 */
const ROOT = join(__dirname, '..');
const BUNDLE = join(ROOT, 'test', 'fixtures', 'churn');
const DURATION = Number(process.env.BENCH_DURATION_S ?? 5);
const KEY = 'bench-key-0123456789abcdef';
const children: ChildProcess[] = [];
const golden = JSON.parse(readFileSync(join(BUNDLE, 'golden.json'), 'utf8'));
const instances = golden.cases.map((c: { instance: unknown }) => c.instance);
const single = JSON.stringify({ instances: [instances[0]] });
const batch32 = JSON.stringify({ instances: Array.from({ length: 32 }, (_, i) => instances[i % instances.length]) });

function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function start(cmd: string[], env: Record<string, string>, port: number): Promise<{ proc: ChildProcess; coldStartMs: number }> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, cmd, { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: 'ignore' });
  children.push(proc);
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
      await r.arrayBuffer();
      if (r.status === 200 || !cmd.includes('dist/server.js')) break; // the bare server has no health route
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null) throw new Error(`${cmd.join(' ')} exited ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { proc, coldStartMs: performance.now() - t0 };
}

async function cannon(url: string, body: string, connections: number, headers: Record<string, string>) {
  const opts = { url, method: 'POST' as const, body, connections, headers: { 'content-type': 'application/json', ...headers } };
  await autocannon({ ...opts, duration: 1 }); // warm-up
  const r = await autocannon({ ...opts, duration: DURATION });
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

async function main() {
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  const servicePort = 18181;
  const barePort = 18182;
  const service = await start(['dist/server.js'], { SERVING_MODEL_SOURCE: BUNDLE, SERVING_API_KEYS: KEY, HOST: '127.0.0.1', LOG_LEVEL: 'info' }, servicePort);
  const bare = await start(['--import', 'tsx', 'bench/bare-server.ts'], { BUNDLE }, barePort);
  const idleRss = rssMb(service.proc.pid!);
  const rows: Array<Record<string, string | number>> = [];
  const serviceUrl = `http://127.0.0.1:${servicePort}/v1/models/churn:predict`;
  const bareUrl = `http://127.0.0.1:${barePort}/predict`;
  const auth = { authorization: `Bearer ${KEY}` };
  try {
    // Steady state, not JIT warm-up: both servers get the same 2 x 3 s of traffic first.
    for (const body of [single, batch32]) {
      const opts = { method: 'POST' as const, body, connections: 16, duration: 3 };
      await autocannon({ ...opts, url: serviceUrl, headers: { 'content-type': 'application/json', ...auth } });
      await autocannon({ ...opts, url: bareUrl, headers: { 'content-type': 'application/json' } });
    }
    for (const [label, body] of [['single', single], ['batch-32', batch32]] as const)
      for (const c of [1, 16, 64]) {
        const s = await cannon(serviceUrl, body, c, auth);
        const b = await cannon(bareUrl, body, c, {});
        const row = {
          request: label,
          connections: c,
          service_rps: Math.round(s.rps),
          service_p50_ms: s.p50,
          service_p99_ms: s.p99,
          bare_rps: Math.round(b.rps),
          bare_p50_ms: b.p50,
          bare_p99_ms: b.p99,
          ratio: `${Math.round((s.rps / b.rps) * 100)}%`,
        };
        rows.push(row);
        process.stderr.write(`${JSON.stringify(row)}\n`);
      }
  } finally {
    const loadedRss = rssMb(service.proc.pid!);
    service.proc.kill('SIGTERM');
    bare.proc.kill('SIGTERM');
    const cpus = (await import('node:os')).cpus();
    const summary = {
      machine: `${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}`,
      duration_s_per_run: DURATION,
      cold_start_to_ready_ms: Math.round(service.coldStartMs),
      rss_idle_mb: Math.round(idleRss.rss),
      rss_after_load_mb: Math.round(loadedRss.rss),
      rss_peak_mb: Math.round(loadedRss.peak),
      rows,
    };
    writeFileSync(join(ROOT, '.bench', 'results.json'), JSON.stringify(summary, null, 2));
    const head = '| request | conns | service req/s | p50 ms | p99 ms | bare req/s | p50 ms | p99 ms | service/bare |';
    console.log(`\n${summary.machine}; ${DURATION} s per run, autocannon in the same process tree\n`);
    console.log(head);
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows)
      console.log(`| ${r.request} | ${r.connections} | ${r.service_rps} | ${r.service_p50_ms} | ${r.service_p99_ms} | ${r.bare_rps} | ${r.bare_p50_ms} | ${r.bare_p99_ms} | ${r.ratio} |`);
    console.log(`\ncold start to ready: ${summary.cold_start_to_ready_ms} ms; RSS idle ${summary.rss_idle_mb} MB, after load ${summary.rss_after_load_mb} MB, peak ${summary.rss_peak_mb} MB`);
  }
}

process.on('exit', () => {
  for (const p of children) if (p.exitCode === null) p.kill('SIGKILL');
});

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
