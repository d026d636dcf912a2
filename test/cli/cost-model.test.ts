// `colt tune --cost-model-file`: a cost model trained beforehand by scripts/cost-model on the
// real records of another workload (GMM:0, tuned here), named relative to the user's folder,
// scores a GMM:1 run; the summary says which file. By default the bundled model scores; `none`
// turns it off. A missing file, or one given with the random
// cost model, is one line and exit 2 before anything is tuned.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ensureBuilt, expectOneErrorLine, REPO, runColt } from './colt-process';

const BUNDLED = path.join(REPO, 'python-bridge', 'colt_bridge', 'cost_models', 'llvm-x86_64.npz');
let tmp: string;

beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-cost-model-'));
}, 180_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('colt tune --cost-model-file', () => {
  it('tunes with a model scripts/cost-model trained on another workload\'s records', async () => {
    const records = path.join(tmp, 'records', 'gmm_0');
    const first = await runColt(['tune', '--workload', 'GMM:0', '--trials', '8', '--no-llm', '--work-dir', records]);
    expect(first.code).toBe(0);
    // By default an x86-64 CPU run scores beside the model shipped with the bridge, and says so.
    expect(JSON.parse(fs.readFileSync(path.join(records, 'colt-summary.json'), 'utf8')).costModelFile).toBe(BUNDLED);
    expect(first.stdout).toContain(`Cost model: xgb, beside ${BUNDLED} (trained beforehand on other workloads).`);
    const said = execFileSync(path.join(REPO, 'scripts', 'cost-model'), ['train', '--from', path.join(tmp, 'records'), '--out', path.join(tmp, 'model.npz')], {
      encoding: 'utf8',
    });
    expect(said).toMatch(/^cost-model: 8 trials of 1 workloads from 1 databases/);

    const workDir = path.join(tmp, 'gmm1');
    // Relative to the folder colt runs in, not to the bridge's.
    const run = await runColt(['tune', '--workload', 'GMM:1', '--trials', '8', '--no-llm', '--work-dir', workDir, '--cost-model-file', 'model.npz'], { cwd: tmp });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(workDir, 'colt-summary.json'), 'utf8'));
    expect(summary).toMatchObject({ trials: 8, costModel: 'xgb', costModelFile: path.join(tmp, 'model.npz') });

    // `none`: no model trained beforehand at all, not even the bundled one.
    const bare = path.join(tmp, 'bare');
    const none = await runColt(['tune', '--workload', 'GMM:1', '--trials', '4', '--no-llm', '--work-dir', bare, '--cost-model-file', 'none'], { cwd: tmp });
    expect(none.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(bare, 'colt-summary.json'), 'utf8')).costModelFile).toBeNull();
    expect(none.stdout).not.toContain('Cost model:');
  }, 600_000);

  it('refuses a missing file, or one given with the random model, in one line before tuning', async () => {
    const workDir = path.join(tmp, 'refused');
    const missing = await runColt(['tune', '--workload', 'GMM:0', '--trials', '4', '--no-llm', '--work-dir', workDir, '--cost-model-file', 'nowhere.npz'], { cwd: tmp });
    expectOneErrorLine(missing, new RegExp(`cost model ${path.join(tmp, 'nowhere.npz')}: no such file`));
    fs.writeFileSync(path.join(tmp, 'some.npz'), 'x');
    const random = await runColt(['tune', '--workload', 'GMM:0', '--trials', '4', '--no-llm', '--work-dir', workDir, '--cost-model', 'random', '--cost-model-file', 'some.npz'], { cwd: tmp });
    expectOneErrorLine(random, /a cost model file goes with the xgb cost model, not random/);
    expect(fs.existsSync(path.join(workDir, 'database_tuning_record.json'))).toBe(false);
  }, 300_000);
});
