// The jest environment of the tests that run a local model. Jest runs test code in a vm sandbox
// that refuses import() without --experimental-vm-modules, and node-llama-cpp is ESM-only; this
// file is loaded by Node itself, so the import() it lends the tests is a real one.
const { TestEnvironment } = require('jest-environment-node');

class LocalModelEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.global.importNodeLlamaCpp = () => import('node-llama-cpp');
  }
}

module.exports = LocalModelEnvironment;
