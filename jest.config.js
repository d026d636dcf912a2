/** Jest runs the TypeScript sources directly through ts-jest. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // CommonJS as before tsconfig moved to node16 (which ts-jest only half supports): jest's
    // sandbox has no import() anyway, and the local-model tests lend it one.
    '^.+\\.ts$': [
      'ts-jest',
      { tsconfig: { rootDir: '.', types: ['node', 'jest'], module: 'commonjs', moduleResolution: 'node' }, diagnostics: true },
    ],
  },
  testTimeout: 600000,
};
