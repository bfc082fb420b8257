import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { listen, load, predictOnce, waitFor } from './helpers';
import { startServer } from './process';

const A = 'key-a-0123456789abcdef';
const B = 'key-b-0123456789abcdef';
const C = 'key-c-0123456789abcdef';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/**
 * A folder updated the way the kubelet and the Secrets Store CSI driver do it (AtomicWriter):
 * each version in a new `..<n>` directory, the `..data` symlink renamed over to point at it,
 * and `api-keys` a symlink through `..data`. The file's own path never changes.
 */
function secretMount() {
  const dir = mkdtempSync(join(tmpdir(), 'keys-mount-'));
  let version = 0;
  const file = join(dir, 'api-keys');
  return {
    dir,
    file,
    write(text: string) {
      const name = `..${++version}`;
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'api-keys'), text);
      symlinkSync(name, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      if (version === 1) symlinkSync(join('..data', 'api-keys'), file);
      else rmSync(join(dir, `..${version - 1}`), { recursive: true });
    },
    remove() {
      rmSync(join(dir, '..data'));
    },
  };
}

async function metric(url: string, result: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^api_keys_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

async function status(url: string, key: string): Promise<number> {
  return (await predictOnce(url, bearer(key))).status;
}

describe('API keys file: re-read while serving', () => {
  const mounts: string[] = [];
  after(() => {
    for (const dir of mounts) rmSync(dir, { recursive: true, force: true });
  });

  test('a symlink swap of the mount is picked up without a restart; bad, empty and missing files keep the old keys and are counted', async () => {
    const mount = secretMount();
    mounts.push(mount.dir);
    mount.write(`${A}\n`);
    // An hour between polls: only the folder watch can see these swaps in time.
    const { app, url } = await listen({ SERVING_API_KEYS_FILE: mount.file, SERVING_API_KEYS_POLL_S: '3600' });
    try {
      assert.equal(await status(url, A), 200);
      assert.equal(await status(url, B), 401);

      mount.write(`# rotated\n${B}\n${A}\n`);
      await waitFor('the new key to be valid', async () => (await status(url, B)) === 200);
      assert.equal(await status(url, A), 200, 'the previous key stays valid while the file lists it');
      assert.equal(await metric(url, 'swapped'), 1);

      mount.write('too-short\n');
      await waitFor('the bad file to be refused', async () => (await metric(url, 'invalid')) === 1);
      mount.write('# nothing but a comment\n');
      await waitFor('the empty file to be refused', async () => (await metric(url, 'invalid')) === 2);
      assert.equal(await status(url, A), 200);
      assert.equal(await status(url, B), 200);

      mount.remove();
      await waitFor('the missing file to be counted', async () => (await metric(url, 'unreadable')) >= 1);
      assert.equal(await status(url, B), 200, 'a lost mount keeps the keys');

      mount.write(`${C}\n${B}\n`);
      await waitFor('the old key to be dropped', async () => (await status(url, A)) === 401);
      assert.equal(await status(url, B), 200);
      assert.equal(await status(url, C), 200);
      assert.equal(await metric(url, 'swapped'), 2);
    } finally {
      await app.close();
    }
  });

  test('the poll finds a swap that no watch event reports (the folder itself is a symlink, moved to a new target)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'keys-linked-'));
    mounts.push(root);
    for (const [version, key] of [['v1', A], ['v2', B]] as const) {
      mkdirSync(join(root, version));
      writeFileSync(join(root, version, 'keys'), `${key}\n`);
    }
    symlinkSync('v1', join(root, 'current'));
    // The watch is on the folder current/ resolved to v1; nothing in v1 changes.
    const { app, url } = await listen({ SERVING_API_KEYS_FILE: join(root, 'current', 'keys'), SERVING_API_KEYS_POLL_S: '0.05' });
    try {
      assert.equal(await status(url, A), 200);
      symlinkSync('v2', join(root, 'next'));
      renameSync(join(root, 'next'), join(root, 'current'));
      await waitFor('the polled swap', async () => (await status(url, B)) === 200);
      assert.equal(await status(url, A), 401);
    } finally {
      await app.close();
    }
  });

  test('a request authorized before a swap that drops its key still completes', async () => {
    const mount = secretMount();
    mounts.push(mount.dir);
    mount.write(`${A}\n`);
    // Each request waits 400 ms in the batcher after its key was checked.
    const { app, url } = await listen({
      SERVING_API_KEYS_FILE: mount.file,
      SERVING_API_KEYS_POLL_S: '0.05',
      SERVING_BATCH_MAX_WAIT_MS: '400',
    });
    try {
      const inFlight = predictOnce(url, bearer(A));
      await waitFor('the request to be in flight', async () => /^active_requests 1$/m.test(await (await fetch(`${url}/metrics`)).text()));
      mount.write(`${B}\n`);
      await waitFor('the swap', async () => (await metric(url, 'swapped')) === 1);
      assert.equal((await inFlight).status, 200);
      assert.equal(await status(url, A), 401);
    } finally {
      await app.close();
    }
  });
});

describe('server process: key rotation under load', () => {
  test('old key valid until the file drops it, new key valid from the swap: zero failed requests with a valid key', async () => {
    const mount = secretMount();
    mount.write(`${A}\n`);
    const s = startServer({ SERVING_MODEL_SOURCE: join(__dirname, 'fixtures', 'churn'), SERVING_API_KEYS_FILE: mount.file, SERVING_API_KEYS_POLL_S: '0.2' });
    try {
      const url = await s.url();
      const swaps = () => s.stdout.split('\n').filter((l) => l.includes('"msg":"api keys reloaded"')).length;
      // Old-key clients run from the start until the file drops A; new-key clients start at the swap that adds B.
      const oldKey = load(() => predictOnce(url, bearer(A)), 4);
      await waitFor('traffic with the old key', () => oldKey.total > 200);

      mount.write(`${B}\n${A}\n`); // what the rotation Lambda's AWSPENDING holds: new key first, previous kept
      await waitFor('the swap that adds the new key', () => swaps() === 1);
      const newKey = load(() => predictOnce(url, bearer(B)), 4);
      await waitFor('traffic with both keys', () => newKey.total > 200 && oldKey.total > 400);

      mount.write('not-a-key\n');
      await waitFor('the bad file to be refused', () => /api keys file refused/.test(s.stdout));
      const both = oldKey.total + newKey.total;
      await waitFor('traffic after the bad file', () => oldKey.total + newKey.total > both + 200);
      const old = await oldKey.stop();

      mount.write(`${C}\n${B}\n`); // the next rotation drops A
      await waitFor('the swap that drops the old key', () => swaps() === 2);
      const afterDrop = await status(url, A);
      const nowNew = newKey.total;
      await waitFor('traffic after the drop', () => newKey.total > nowNew + 200);
      const fresh = await newKey.stop();

      assert.deepEqual(old.errors, []);
      assert.deepEqual([...old.statuses], [[200, old.total]], 'the old key never failed while the file listed it');
      assert.deepEqual(fresh.errors, []);
      assert.deepEqual([...fresh.statuses], [[200, fresh.total]], 'the new key never failed after the swap');
      assert.equal(afterDrop, 401);
      assert.equal(s.proc.exitCode, null, 'no restart');
      assert.ok(![A, B, C].some((k) => s.stdout.includes(k) || s.stderr.includes(k)), 'no key reaches the logs');
      process.stdout.write(`# key rotation under load: ${old.total} requests with the old key, ${fresh.total} with the new key, 0 failed\n`);
    } finally {
      if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
      rmSync(mount.dir, { recursive: true, force: true });
    }
  });
});
