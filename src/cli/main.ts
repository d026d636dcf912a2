#!/usr/bin/env node
// Entry point: bin/colt requires the compiled dist/cli/main.js.
import { runCli } from './program';

void runCli(process.argv.slice(2)).then((code) => {
  // Exit explicitly, after stdout has drained: a stray handle must not keep a finished run alive.
  process.stdout.write('', () => process.exit(code));
});
