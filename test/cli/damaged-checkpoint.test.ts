// `colt tune --resume` on a damaged checkpoint: one line, exit 2, and no Python started (the
// checkpoint is read whole before the bridge or a local model is started).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

import { CHECKPOINT_FILE } from '../../src/tuning/checkpoint';
import { ensureBuilt, PYTHON, runColt, userEnv } from './colt-process';

let dir: string;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-damaged-'));
  // Every Python started with this environment leaves a file saying so.
  fs.mkdirSync(path.join(dir, 'hook'));
  fs.writeFileSync(
    path.join(dir, 'hook', 'sitecustomize.py'),
    `import os\nopen(os.path.join(${JSON.stringify(dir)}, 'python-started-%d' % os.getpid()), 'w').close()\n`,
  );
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const pythonsStarted = (): string[] => fs.readdirSync(dir).filter((f) => f.startsWith('python-started-'));
const env = (): NodeJS.ProcessEnv => userEnv({ PYTHONPATH: path.join(dir, 'hook') });

it('refuses a damaged checkpoint with one line and exit 2, before any Python starts', async () => {
  // The hook does notice a Python started with this environment.
  execFileSync(PYTHON, ['-c', 'pass'], { env: env() });
  expect(pythonsStarted()).toHaveLength(1);
  fs.rmSync(path.join(dir, pythonsStarted()[0]));

  const workDir = path.join(dir, 'run');
  fs.mkdirSync(workDir);
  // A checkpoint whose header is right and whose body lost a node's fields.
  const damaged = {
    version: 1,
    workload: 'GMM:1',
    target: { kind: 'llvm' },
    workloadKey: '0x1',
    savedAt: '',
    search: { version: 1, tree: { nodes: [{ id: 0, parent: null, children: [] }] } },
  };
  fs.writeFileSync(path.join(workDir, CHECKPOINT_FILE), JSON.stringify(damaged));
  const run = await runColt(['tune', '--workload', 'GMM:1', '--trials', '4', '--work-dir', workDir, '--resume'], { env: env() });

  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^colt: error: .*colt-checkpoint\.json is damaged \(search\.tree\.nodes\.0\.model: .*\): remove it to resume from the database alone$/);
  expect(run.code).toBe(2);
  expect(pythonsStarted()).toEqual([]);
});
