/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { LauncherError } from '../../training/launcher/cli/errors';
import { packDirectory, unpackArchive } from '../../training/launcher/lib/tarball';
import { FIXTURE } from '../lifecycle/fixtures';
import { removeTempDirs, tempDir } from './helpers';

const REPO = path.join(__dirname, '..', '..');
/** A name past ustar's 100 bytes: the archive needs a pax (or GNU) long name. */
const LONG_NAME = `${'segment-'.repeat(16)}report.json`;

afterAll(() => removeTempDirs());

/** Every file below `dir`, relative, with its bytes. */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = path.posix.join(rel, e.name);
      if (e.isDirectory()) walk(name);
      else out[name] = readFileSync(path.join(dir, name)).toString('base64');
    }
  };
  walk('');
  return out;
}

/** The fixture bundle with a subfolder, holding a file with a long name (or a short one). */
function bundleFolder(name = LONG_NAME): string {
  const dir = tempDir('tar-bundle-');
  cpSync(FIXTURE, dir, { recursive: true });
  mkdirSync(path.join(dir, 'reports'));
  writeFileSync(path.join(dir, 'reports', name), '{"f1":0.61}\n');
  return dir;
}

function systemTar(...args: string[]): string {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** An archive with one hostile entry beside a manifest, written with Python's tarfile. */
function hostileArchive(kind: string): string {
  const archive = path.join(tempDir('tar-hostile-'), 'model.tar.gz');
  const script = `
import io, sys, tarfile
kind, out = sys.argv[1], sys.argv[2]
with tarfile.open(out, 'w:gz', format=tarfile.PAX_FORMAT) as t:
    body = b'{}'
    m = tarfile.TarInfo('./manifest.json'); m.size = len(body); t.addfile(m, io.BytesIO(body))
    e = tarfile.TarInfo({'traversal': '../evil', 'nested-traversal': './sub/../../evil',
        'absolute': '/tmp/evil'}.get(kind, './model.onnx'))
    if kind == 'symlink': e.type, e.linkname = tarfile.SYMTYPE, '/etc/passwd'
    elif kind == 'hardlink': e.type, e.linkname = tarfile.LNKTYPE, 'manifest.json'
    elif kind == 'device': e.type, e.devmajor, e.devminor = tarfile.CHRTYPE, 1, 3
    elif kind == 'fifo': e.type = tarfile.FIFOTYPE
    e.size = len(b'evil') if e.type == tarfile.REGTYPE else 0
    t.addfile(e, io.BytesIO(b'evil') if e.size else None)
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script, kind, archive], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return archive;
}

describe('model.tar.gz without a tar binary', () => {
  test('pack then unpack gives back every file, long names and subfolders included', () => {
    const dir = bundleFolder();
    const archive = path.join(tempDir('tar-out-'), 'model.tar.gz');
    packDirectory(dir, archive);
    const target = path.join(tempDir('tar-in-'), 'model');
    unpackArchive(archive, target);
    expect(contents(target)).toEqual(contents(dir));
    expect(Object.keys(contents(target))).toContain(`reports/${LONG_NAME}`);
  });

  test("pack writes what GNU tar reads: SageMaker's layout (./ at the root), the same bytes", () => {
    const dir = bundleFolder();
    const archive = path.join(tempDir('tar-out-'), 'model.tar.gz');
    packDirectory(dir, archive);
    const listed = systemTar('-tzf', archive).trim().split('\n');
    expect(listed).toEqual(
      expect.arrayContaining(['./', './manifest.json', './model.onnx', `./reports/${LONG_NAME}`]),
    );
    const target = tempDir('tar-gnu-');
    systemTar('-xzf', archive, '-C', target);
    expect(contents(target)).toEqual(contents(dir));
  });

  test.each(['gnu', 'pax', 'ustar'])(
    'unpacks an archive made by the system tar -czf (--format=%s)',
    (format) => {
      // Plain ustar has no long names (a name holds 100 bytes at most).
      const dir = bundleFolder(format === 'ustar' ? 'segments.json' : LONG_NAME);
      const archive = path.join(tempDir('tar-sys-'), 'model.tar.gz');
      systemTar(`--format=${format}`, '-czf', archive, '-C', dir, '.');
      const target = path.join(tempDir('tar-in-'), 'model');
      unpackArchive(archive, target);
      expect(contents(target)).toEqual(contents(dir));
    },
  );

  test.each([
    ['traversal', "entry '../evil' leaves the archive's folder ('..')"],
    ['nested-traversal', "entry './sub/../../evil' leaves the archive's folder ('..')"],
    ['absolute', "entry '/tmp/evil' has an absolute path"],
    ['symlink', "entry './model.onnx' is a symbolic link (to '/etc/passwd')"],
    ['hardlink', "entry './model.onnx' is a hard link (to 'manifest.json')"],
    ['device', "entry './model.onnx' is a device"],
    ['fifo', "entry './model.onnx' is a FIFO"],
  ])('fails on a hostile entry (%s), naming it, and writes nothing', (kind, message) => {
    const archive = hostileArchive(kind);
    const parent = tempDir('tar-target-');
    const target = path.join(parent, 'model');
    let error: unknown;
    try {
      unpackArchive(archive, target);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LauncherError);
    expect((error as Error).message).toBe(
      `model.tar.gz refused: ${message}. A model bundle holds only files and folders; nothing was unpacked`,
    );
    // Nothing in the target, beside it, or where the entry pointed.
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
    expect(readdirSync(path.dirname(archive))).toEqual(['model.tar.gz']);
    expect(existsSync('/tmp/evil')).toBe(false);
  });

  test('fails on an archive that is not one, with what is wrong', () => {
    const archive = path.join(tempDir('tar-bad-'), 'model.tar.gz');
    writeFileSync(archive, Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2, 3, 4, 5, 6, 7]));
    expect(() => unpackArchive(archive, path.join(archive, '..', 'model'))).toThrow(
      /^cannot read model\.tar\.gz: zlib: invalid block type$/,
    );
  });

  test('packs and unpacks in a process whose PATH is empty (no tar binary to find)', () => {
    // GIVEN a system-tar archive and a bundle folder
    const dir = bundleFolder();
    const work = tempDir('tar-nopath-');
    const archive = path.join(work, 'system.tar.gz');
    systemTar('-czf', archive, '-C', dir, '.');
    const script = `
      const { packDirectory, unpackArchive } = require(${JSON.stringify(path.join(REPO, 'training/launcher/lib/tarball.ts'))});
      const [dir, work, archive] = process.argv.slice(-3);
      unpackArchive(archive, work + '/unpacked');
      packDirectory(dir, work + '/packed.tar.gz');
      unpackArchive(work + '/packed.tar.gz', work + '/repacked');
      console.log('ok');
    `;
    // WHEN the code runs with PATH empty (spawning tar would fail with ENOENT)
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '-e', script, '--', dir, work, archive],
      { cwd: REPO, env: { PATH: '', HOME: process.env.HOME }, encoding: 'utf8' },
    );
    // THEN both directions work
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok');
    expect(contents(path.join(work, 'unpacked'))).toEqual(contents(dir));
    expect(contents(path.join(work, 'repacked'))).toEqual(contents(dir));
    expect(statSync(path.join(work, 'packed.tar.gz')).size).toBeGreaterThan(0);
  });
});
