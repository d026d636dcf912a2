// scripts/soak, short: three runs of `colt tune`, each struck by the victim seed 0 draws (the
// whole process group, the bridge, the CLI: SIGKILL), then resumed: nothing lost, nothing
// measured twice, TVM applies the database, no process left over.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ensureBuilt, REPO } from '../cli/colt-process';

let dir: string;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-soak-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Totals {
  iterations: number;
  kills: number;
  survived: number;
  records_lost: number;
  duplicates: number;
  orphans: number;
  tvm_refused: number;
}

it('survives three strikes with nothing lost, duplicated or left over', async () => {
  const out = path.join(dir, 'soak.json');
  const code = await new Promise<number | null>((resolve) => {
    const child = execFile(
      'python3',
      [path.join(REPO, 'scripts', 'soak'), '--iterations', '3', '--trials', '4', '--per-iter', '2', '--seed', '0', '--out', path.join(dir, 'runs'), '--json', out],
      { cwd: REPO },
    );
    child.on('exit', resolve);
  });
  const { totals, iterations } = JSON.parse(fs.readFileSync(out, 'utf8')) as { totals: Totals; iterations: Array<{ records: number }> };
  expect(totals).toMatchObject({ iterations: 3, records_lost: 0, duplicates: 0, orphans: 0, tvm_refused: 0 });
  expect(totals.kills).toBeGreaterThan(0);
  expect(totals.survived).toBe(totals.kills);
  expect(iterations.map((i) => i.records)).toEqual([4, 4, 4]);
  expect(code).toBe(0);
}, 1_500_000);
