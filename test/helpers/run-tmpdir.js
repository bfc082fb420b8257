/**
 * Jest globalSetup / globalTeardown: one temporary folder for the whole run, as TMPDIR of every
 * worker (and of what they spawn), removed at the end. Each `new App()` without an outdir
 * synthesizes into a fresh folder under os.tmpdir() that nothing removes (about 90 MB with the
 * kubectl layer), and so do the placeholder image folders and diff fixtures: without this a
 * full run left gigabytes in /tmp, and repeated runs filled the disk.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

async function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-jest-'));
  process.env.MLP_JEST_TMPDIR = dir;
  process.env.TMPDIR = dir;
}

async function teardown() {
  const dir = process.env.MLP_JEST_TMPDIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

module.exports = { setup, teardown };
