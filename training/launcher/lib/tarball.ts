import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';
import type { ReadEntry } from 'tar';
import { LauncherError } from '../cli/errors';

// node-tar (pure JavaScript, with Node's zlib), not the tar binary: Lambda's Node.js runtime
// image has none, and the pipeline's publish step unpacks model.tar.gz there.

/** model.tar.gz the way SageMaker builds it: the bundle files at the archive root (`./`). */
export function packDirectory(dir: string, archive: string): void {
  // portable: no uid, gid, user or group names; GNU tar reads the ustar/pax output.
  strictly(`cannot pack ${dir} into ${archive}`, (onwarn) =>
    tar.create({ file: archive, cwd: dir, gzip: true, portable: true, sync: true, onwarn }, ['.']),
  );
}

type OnWarn = (code: string, message: string) => void;

/** Runs a node-tar call with its warnings (a bad archive, a failed write) made one error. */
function strictly(what: string, call: (onwarn: OnWarn) => void): void {
  const problems: string[] = [];
  try {
    call((code, message) => problems.push(`${message} (${code})`));
  } catch (err) {
    // An 'error' event nobody listened to arrives wrapped (ERR_UNHANDLED_ERROR): say what it was.
    const { context } = err as { context?: { message?: unknown } };
    problems.push(String(context?.message ?? (err as Error).message));
  }
  if (problems.length > 0) throw new LauncherError(`${what}: ${problems.join('; ')}`);
}

/** The entry types a model bundle can hold. */
const CONTENT = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

const KINDS: Record<string, string> = {
  SymbolicLink: 'a symbolic link',
  Link: 'a hard link',
  CharacterDevice: 'a device',
  BlockDevice: 'a device',
  FIFO: 'a FIFO',
};

/** Why an entry may not be unpacked, or undefined when it is a plain file or folder inside. */
function refusal(entry: ReadEntry): string | undefined {
  const name = entry.path;
  if (path.posix.isAbsolute(name) || /^[A-Za-z]:/.test(name)) return 'has an absolute path';
  if (name.split('/').includes('..')) return "leaves the archive's folder ('..')";
  if (!CONTENT.has(entry.type)) {
    const kind = KINDS[entry.type] ?? `a ${entry.type} entry`;
    return `is ${kind}${entry.linkpath ? ` (to '${entry.linkpath}')` : ''}`;
  }
  return undefined;
}

/**
 * Unpacks a (gzipped) tar archive into `dir`. Every entry is checked before anything is
 * written: only files and folders below `dir` (the `./` prefix of SageMaker's archives is
 * fine; pax and GNU long names are read); an absolute or `..` path, a link or a device entry
 * refuses the whole archive.
 */
export function unpackArchive(archive: string, dir: string): void {
  const name = path.basename(archive);
  const refused: string[] = [];
  strictly(`cannot read ${name}`, (onwarn) =>
    tar.list({
      file: archive,
      sync: true,
      onwarn,
      onReadEntry: (entry) => {
        const why = refusal(entry);
        if (why) refused.push(`entry '${entry.path}' ${why}`);
      },
    }),
  );
  if (refused.length > 0)
    throw new LauncherError(
      `${name} refused: ${refused.join('; ')}. A model bundle holds only files and folders; nothing was unpacked`,
    );
  mkdirSync(dir, { recursive: true });
  strictly(`cannot unpack ${name}`, (onwarn) =>
    tar.extract({ file: archive, cwd: dir, sync: true, onwarn, preserveOwner: false }),
  );
}
