// Where the repository's own files are, whether this code runs compiled from dist/ or from
// src/ under ts-jest: both sit below the folder that holds package.json.
import fs from 'node:fs';
import path from 'node:path';

/** The nearest folder at or above `from` holding a package.json. */
export function findRepoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
}

export const BRIDGE_PROTO = path.join('proto', 'colt', 'v1', 'bridge.proto');
export const TUNER_PROTO = path.join('proto', 'colt', 'v1', 'tuner.proto');
export const PYTHON_BRIDGE_DIR = 'python-bridge';
export const VENV_PYTHON = path.join('.venv', 'bin', 'python');
