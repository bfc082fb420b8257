/**
 * `npm run diff -- [--base <git ref>] [-c team=T] [-c stage=S] [--json] [--fail-on-replace]`:
 * synthesizes the base commit (in a temporary git worktree) and the working tree, offline, and
 * prints one PR comment (Markdown) or `--json` with every CloudFormation, Kubernetes, Helm,
 * cdk-nag and capacity change. `--base-out` / `--head-out` compare two existing `cdk.out`
 * folders instead of synthesizing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { copyAssemblyFiles, loadAssembly, type Assembly } from './assembly';
import { renderMarkdown } from './markdown';
import { diffAssemblies, EXIT_STATEFUL_RISK, type Sides } from './report';
import { checkoutBase, DiffError, defaultBase, git, resolveCommit, synthesize } from './sides';

export interface Io {
  readonly cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
}

const USAGE = `Usage: npm run diff -- [--base <git ref>] [-c team=<team>] [-c stage=<stage>] [--json] [--fail-on-replace]
       npm run diff -- --base-out <cdk.out> --head-out <cdk.out> [--json] [--fail-on-replace]

  --base <ref>        commit to compare with (default: the merge base of HEAD with main)
  -c, --context k=v   CDK context for both synths, as for cdk synth (team, stage, teamsDir)
  --json              the full diff as JSON, for tools
  --fail-on-replace   exit with status 3 when a stateful resource would be replaced or deleted
  --no-cache          synthesize the base even when node_modules/.cache/ml-platform-diff has it
  --base-out, --head-out  compare two synthesized cloud assemblies; no git, no synth
`;

/** The whole command; returns the exit status (0, 1 for an error, 3 for --fail-on-replace). */
export async function runDiff(argv: string[], io: Io): Promise<number> {
  const started = process.hrtime.bigint();
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        base: { type: 'string' },
        context: { type: 'string', short: 'c', multiple: true, default: [] },
        json: { type: 'boolean', default: false },
        'fail-on-replace': { type: 'boolean', default: false },
        'base-out': { type: 'string' },
        'head-out': { type: 'string' },
        cache: { type: 'boolean', default: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    }).values;
  } catch (err) {
    io.stderr(`diff: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  if (args.help) {
    io.stdout(USAGE);
    return 0;
  }
  const context: Record<string, string> = {};
  for (const kv of args.context) {
    const eq = kv.indexOf('=');
    if (eq <= 0) {
      io.stderr(`diff: -c ${kv}: expected key=value, like -c team=fraud\n`);
      return 1;
    }
    context[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  try {
    let base: Assembly;
    let head: Assembly;
    let sides: Sides;
    let timing: string;
    if (args['base-out'] || args['head-out']) {
      if (!args['base-out'] || !args['head-out']) {
        throw new DiffError('--base-out and --head-out go together');
      }
      base = load(path.resolve(io.cwd, args['base-out']), 'base');
      head = load(path.resolve(io.cwd, args['head-out']), 'head');
      sides = { base: args['base-out'], head: args['head-out'] };
      timing = '';
    } else {
      ({ base, head, sides, timing } = await synthesizeBoth(
        io.cwd,
        args.base,
        context,
        args.cache,
        io,
      ));
    }
    const compareStart = process.hrtime.bigint();
    const report = diffAssemblies(base, head, sides);
    const output = args.json
      ? `${JSON.stringify(report, null, 2)}\n`
      : `${renderMarkdown(report)}\n`;
    io.stdout(output);
    const total = seconds(started);
    io.stderr(
      `diff: ${timing}compared in ${seconds(compareStart).toFixed(1)} s; ${total.toFixed(1)} s in all\n`,
    );
    return args['fail-on-replace'] && report.stateful.length > 0 ? EXIT_STATEFUL_RISK : 0;
  } catch (err) {
    if (err instanceof DiffError) {
      io.stderr(`diff: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function load(dir: string, side: 'base' | 'head'): Assembly {
  try {
    return loadAssembly(dir);
  } catch (err) {
    throw new DiffError(`${side}: ${(err as Error).message}`);
  }
}

async function synthesizeBoth(
  cwd: string,
  baseRef: string | undefined,
  context: Record<string, string>,
  useCache: boolean,
  io: Io,
): Promise<{ base: Assembly; head: Assembly; sides: Sides; timing: string }> {
  const ref = baseRef ?? (await defaultBase(cwd));
  const sha = await resolveCommit(cwd, ref);
  const short = sha.slice(0, 7);
  const baseLabel = baseRef ? `${ref} (${short})` : `merge base with main (${short})`;
  const headSha = await git(cwd, 'rev-parse', '--short=7', 'HEAD').catch(() => 'no commit');
  const dirty = (await git(cwd, 'status', '--porcelain', '--', '.').catch(() => '')) !== '';
  const headLabel = `working tree (${headSha}${dirty ? ' + uncommitted changes' : ''})`;
  const cache = baseCache(cwd, sha, context);
  const cached = useCache && fs.existsSync(path.join(cache, 'manifest.json'));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-diff-out-'));
  const worktree = cached ? undefined : await checkoutBase(cwd, ref, sha);
  try {
    if (worktree?.installed) {
      io.stderr(`diff: the base's package-lock.json differs: ran npm ci in its worktree\n`);
    }
    const time = async (f: () => Promise<void>) => {
      const t = process.hrtime.bigint();
      await f();
      return seconds(t);
    };
    // Both sides at once; when one fails, the other is stopped and the first failure reported.
    const stop = new AbortController();
    let firstFailure: unknown;
    // Ctrl-C stops both synths (their own process groups) and still removes the worktree.
    let interrupted = false;
    const interrupt = () => {
      interrupted = true;
      stop.abort();
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    const side = (f: (signal: AbortSignal) => Promise<void>) =>
      time(() => f(stop.signal)).catch((err: unknown) => {
        if (!stop.signal.aborted) {
          firstFailure = err;
          stop.abort();
        }
        return NaN;
      });
    const start = process.hrtime.bigint();
    const baseOut = worktree ? path.join(out, 'base') : cache;
    const [baseSeconds, headSeconds] = await Promise.all([
      worktree
        ? side((s) => synthesize(worktree.projectDir, baseOut, context, 'base', baseLabel, s))
        : Promise.resolve(0),
      side((s) => synthesize(cwd, path.join(out, 'head'), context, 'head', headLabel, s)),
    ]);
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    if (interrupted) {
      throw new DiffError('interrupted: both synths stopped, the base worktree removed');
    }
    if (firstFailure !== undefined) throw firstFailure;
    if (worktree && useCache) saveToCache(baseOut, cache);
    const both = seconds(start);
    return {
      base: load(baseOut, 'base'),
      head: load(path.join(out, 'head'), 'head'),
      sides: { base: baseLabel, head: headLabel },
      timing: worktree
        ? `synthesized base in ${baseSeconds.toFixed(1)} s and head in ${headSeconds.toFixed(1)} s (in parallel: ${both.toFixed(1)} s), `
        : `base ${short} from the cache, synthesized head in ${headSeconds.toFixed(1)} s, `,
    };
  } finally {
    await worktree?.remove();
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** Base assemblies kept between runs: a commit and a context always synthesize the same. */
const CACHE_ROOT = path.join('node_modules', '.cache', 'ml-platform-diff');
const CACHE_ENTRIES = 10;

function baseCache(cwd: string, sha: string, context: Record<string, string>): string {
  const ctx = JSON.stringify(Object.entries(context).sort());
  const key = createHash('sha256').update(`${sha}\n${ctx}`).digest('hex').slice(0, 16);
  return path.join(cwd, CACHE_ROOT, key);
}

function saveToCache(assembly: string, entry: string): void {
  const root = path.dirname(entry);
  const staging = `${entry}.${process.pid}.tmp`;
  copyAssemblyFiles(assembly, staging);
  fs.rmSync(entry, { recursive: true, force: true });
  fs.renameSync(staging, entry);
  const entries = fs
    .readdirSync(root)
    .filter((f) => !f.endsWith('.tmp'))
    .map((f) => ({ f, t: fs.statSync(path.join(root, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const old of entries.slice(CACHE_ENTRIES)) {
    fs.rmSync(path.join(root, old.f), { recursive: true, force: true });
  }
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

if (require.main === module) {
  runDiff(process.argv.slice(2), {
    cwd: process.cwd(),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  }).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`diff: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
