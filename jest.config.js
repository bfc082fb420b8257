/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testTimeout: 120000,
  // A private TMPDIR for the run, removed after it (test/helpers/run-tmpdir.js).
  globalSetup: '<rootDir>/test/helpers/run-tmpdir-setup.js',
  globalTeardown: '<rootDir>/test/helpers/run-tmpdir-teardown.js',
};
