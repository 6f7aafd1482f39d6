// `npm run test:interop`: suites against real external peers (test/interop/run.sh starts them).
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/interop/**/*.test.ts'],
  testTimeout: 180000,
  maxWorkers: 1,
};
