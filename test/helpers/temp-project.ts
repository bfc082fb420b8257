import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const project = path.join(__dirname, '..', '..');

/**
 * A temporary git repository holding this project at HEAD (one commit on `main`), with this
 * checkout's packages linked into its own node_modules folder (so caches it writes stay in it).
 */
export function tempProjectRepo(): { repo: string; git: (...args: string[]) => string } {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-diff-repo-'));
  const archive = `${repo}.tar`;
  execFileSync('git', ['archive', '--format=tar', '-o', archive, 'HEAD'], { cwd: project });
  execFileSync('tar', ['-xf', archive, '-C', repo]);
  fs.rmSync(archive);
  const modules = path.join(repo, 'node_modules');
  fs.mkdirSync(modules);
  for (const entry of fs.readdirSync(path.join(project, 'node_modules'))) {
    if (entry === '.cache') continue;
    fs.symlinkSync(path.join(project, 'node_modules', entry), path.join(modules, entry));
  }
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], {
      cwd: repo,
      encoding: 'utf8',
    }).trim();
  git('init', '--quiet', '--initial-branch=main');
  git('add', '-A');
  git('commit', '--quiet', '-m', 'base');
  return { repo, git };
}

/** Edits the example team's file of a temporary project. */
export function editExampleTeam(repo: string, edit: (text: string) => string): void {
  const file = path.join(repo, 'config', 'teams', 'example.yaml');
  fs.writeFileSync(file, edit(fs.readFileSync(file, 'utf8')));
}
