// `npm run test:e2e`: the editor in Debian's Chromium through playwright-core.
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
  testTimeout: 240000,
  maxWorkers: 1,
};
