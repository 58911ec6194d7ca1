/** Jest runs in native ESM mode (node --experimental-vm-modules): see docs/decisions.md. */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    // Source files import siblings as `./x.js` (Node ESM rule); jest resolves them to `./x.ts`.
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  globalSetup: '<rootDir>/test/harness/global-setup.mjs',
  globalTeardown: '<rootDir>/test/harness/global-teardown.mjs',
  testTimeout: 30000,
  maxWorkers: 2,
  // Node 20 never frees a test file's vm.SourceTextModules (nodejs/node#59118), so a worker keeps
  // every file's module graph (about 10 MB each after GC) and ended a full run with 0.64 to 0.72 GB of
  // heap, whose tear-down at its exit took longer than the 500 ms Jest waits: "A worker process has
  // failed to exit gracefully" with no handle left open. A worker past this much heap after a file is
  // replaced instead (docs/decisions.md).
  workerIdleMemoryLimit: '256MB',
};
