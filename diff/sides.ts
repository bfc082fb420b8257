import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A failure of the diff: the message is one line that names the side and the cause. */
export class DiffError extends Error {
  override readonly name = 'DiffError';
}

/**
 * Context that lets a side with unacknowledged cdk-nag findings still write its templates and
 * validation report, so the diff can show the new findings instead of only failing. Every
 * other synth error still fails the side.
 */
const REPORT_VALIDATION_ERRORS = { '@aws-cdk/core:failSynthOnValidationErrors': false };

/**
 * A diff reads templates, not assets: referencing assets where they are (no copy of the
 * kubectl layer and image folders into cdk.out) and hashing sources instead of bundling
 * halves synth time and gives byte-identical templates.
 */
const TEMPLATES_ONLY = { 'aws:cdk:disable-asset-staging': true, 'aws:cdk:bundling-stacks': [] };

/**
 * Runs a project's CDK app the way `cdk synth` does (the `app` command and context of its
 * cdk.json, `CDK_OUTDIR`, `CDK_CONTEXT_JSON`), without the CLI and with no AWS credentials:
 * synth of this app is offline by design.
 */
export async function synthesize(
  projectDir: string,
  outdir: string,
  context: Readonly<Record<string, string>>,
  side: 'base' | 'head',
  label: string,
  signal?: AbortSignal,
): Promise<void> {
  const cdkJsonFile = path.join(projectDir, 'cdk.json');
  if (!fs.existsSync(cdkJsonFile)) {
    throw new DiffError(`${side} (${label}): no cdk.json in ${projectDir}`);
  }
  const cdkJson = JSON.parse(fs.readFileSync(cdkJsonFile, 'utf8')) as {
    app?: string;
    context?: Record<string, unknown>;
  };
  if (!cdkJson.app) throw new DiffError(`${side} (${label}): cdk.json has no "app" command`);
  const contextFile = path.join(projectDir, 'cdk.context.json');
  const saved = fs.existsSync(contextFile) ? JSON.parse(fs.readFileSync(contextFile, 'utf8')) : {};
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify({
      ...saved,
      ...cdkJson.context,
      ...context,
      ...REPORT_VALIDATION_ERRORS,
      ...TEMPLATES_ONLY,
    }),
  };
  // Nothing of the machine's AWS identity may leak into a synth that must be offline.
  for (const k of [
    'AWS_PROFILE',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
  ]) {
    delete env[k];
  }
  fs.mkdirSync(outdir, { recursive: true });
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    // Its own process group, so that an abort ends the app and not only the shell around it.
    const child = spawn(cdkJson.app as string, {
      cwd: projectDir,
      env,
      shell: true,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const abort = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    };
    signal?.addEventListener('abort', abort, { once: true });
    child.on('close', () => signal?.removeEventListener('abort', abort));
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => resolve({ code: 1, stderr: e.message }));
    child.on('close', (c) => resolve({ code: c, stderr: err }));
  });
  if (signal?.aborted) throw new DiffError(`${side} (${label}): stopped`);
  if (code !== 0 || !fs.existsSync(path.join(outdir, 'manifest.json'))) {
    throw new DiffError(`${side} (${label}): synth failed: ${firstCause(stderr)}`);
  }
}

/**
 * The line of a failed synth's output that says why: the problem line of a config error, the
 * `Error:` line of a stack trace, or else the first line.
 */
export function firstCause(stderr: string): string {
  const lines = stderr
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const config = lines.findIndex((l) => /^Invalid .*configuration \(\d+ problems?\):$/.test(l));
  if (config >= 0 && lines[config + 1]) {
    const more = /\((\d+) problems?\)/.exec(lines[config])?.[1];
    return lines[config + 1] + (more && Number(more) > 1 ? ` (and ${Number(more) - 1} more)` : '');
  }
  const error = lines.find((l) => /^(\w+)?Error( \[\w+\])?: /.test(l));
  return error ?? lines[0] ?? 'no output';
}

/** The base side: a commit checked out in a temporary git worktree, ready to synth. */
export interface BaseWorktree {
  readonly projectDir: string;
  readonly sha: string;
  /** `npm ci` ran because the lockfile differs (else node_modules is shared). */
  readonly installed: boolean;
  remove(): Promise<void>;
}

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** The merge base of HEAD with main (or origin/main): what a PR into main is compared with. */
export async function defaultBase(cwd: string): Promise<string> {
  for (const main of ['main', 'origin/main']) {
    try {
      return await git(cwd, 'merge-base', 'HEAD', main);
    } catch {
      // try the next candidate
    }
  }
  throw new DiffError(
    'base: no --base given and no main or origin/main to take the merge base with',
  );
}

export async function resolveCommit(cwd: string, ref: string): Promise<string> {
  try {
    return await git(cwd, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
  } catch {
    throw new DiffError(`base (${ref}): unknown git ref`);
  }
}

/**
 * Checks the base commit out in a temporary worktree. node_modules is shared (a symlink) when
 * the base's lockfile is the working tree's; otherwise `npm ci` installs the base's own.
 */
export async function checkoutBase(
  projectDir: string,
  ref: string,
  sha: string,
): Promise<BaseWorktree> {
  const top = await git(projectDir, 'rev-parse', '--show-toplevel').catch(() => {
    throw new DiffError(`base (${ref}): ${projectDir} is not in a git repository`);
  });
  const prefix = await git(projectDir, 'rev-parse', '--show-prefix');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-diff-base-'));
  const tree = path.join(tmp, 'tree');
  const remove = async () => {
    // The shared node_modules is a link to the working tree's: unlink it before anything deletes.
    const link = path.join(tree, prefix, 'node_modules');
    if (fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) fs.unlinkSync(link);
    await git(top, 'worktree', 'remove', '--force', tree).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
    await git(top, 'worktree', 'prune').catch(() => undefined);
  };
  try {
    // A run that was killed leaves a registered worktree whose folder is gone: forget those.
    await git(top, 'worktree', 'prune');
    await git(top, 'worktree', 'add', '--detach', '--quiet', tree, sha);
  } catch (err) {
    await remove();
    const cause = firstCause((err as { stderr?: string }).stderr ?? (err as Error).message);
    throw new DiffError(`base (${ref}): cannot check it out in a worktree: ${cause}`);
  }
  const baseProject = path.join(tree, prefix);
  try {
    const installed = await linkOrInstall(projectDir, baseProject);
    return { projectDir: baseProject, sha, installed, remove };
  } catch (err) {
    await remove();
    throw new DiffError(
      `base (${ref}): npm ci failed: ${firstCause(String((err as { stderr?: string }).stderr ?? err))}`,
    );
  }
}

async function linkOrInstall(headProject: string, baseProject: string): Promise<boolean> {
  const lock = (dir: string) => {
    const f = path.join(dir, 'package-lock.json');
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined;
  };
  const modules = path.join(headProject, 'node_modules');
  if (lock(headProject) === lock(baseProject) && fs.existsSync(modules)) {
    fs.symlinkSync(modules, path.join(baseProject, 'node_modules'), 'dir');
    return false;
  }
  await run('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: baseProject,
    maxBuffer: 64 * 1024 * 1024,
  });
  return true;
}
