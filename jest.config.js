// `npm test`: `unit` tests engine modules alone, `nodes` runs nodes inside Node-RED's test helper.
// Interop (real peers) and e2e (browser) suites have their own configs: jest.interop.config.js, jest.e2e.config.js.
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
};
module.exports = {
  testTimeout: 20000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'nodes', testMatch: ['<rootDir>/test/nodes/**/*.test.ts'] },
  ],
};
