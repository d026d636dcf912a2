// `colt tune` with no models file: the default bucket, the built-in proposer and the bundled
// SmolLM2-135M run in-process, tunes GMM:0 for real; the summary accounts for the local model's
// calls and tokens, its proposals are applied, and TVM reads the database. Without the model
// the run stops with one line, unless --no-llm.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BUNDLED_MODEL, DEFAULT_BUCKET } from '../../src/llm/default-bucket';
import { ensureBuilt, REPO, runColt, runPython, userEnv } from './colt-process';

const LLM = BUNDLED_MODEL.name;

const COUNT_RECORDS = `
import json, sys
from tvm.s_tir import meta_schedule as ms
db = ms.database.JSONDatabase(work_dir=sys.argv[1])
print(json.dumps({"records": len(db.get_all_tuning_records())}))
`;

type Line = { type: string; [key: string]: unknown };

let tmp: string;

beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-local-llm-'));
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('colt tune with the bundled local LLM', () => {
  it('tunes with the built-in proposer and SmolLM2, counts the LLM calls, and leaves a database TVM reads', async () => {
    if (!fs.existsSync(path.join(REPO, BUNDLED_MODEL.file))) throw new Error(`${BUNDLED_MODEL.file} is missing: run \`bash scripts/setup\``);
    const workDir = path.join(tmp, 'gmm');
    const run = await runColt(['tune', '--workload', 'GMM:0', '--trials', '16', '--per-iter', '8', '--work-dir', workDir, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);

    // Said at the start: who proposes, and how many LLM calls at most.
    expect(lines[0]).toMatchObject({
      type: 'task',
      proposers: [
        { name: 'builtin', kind: 'builtin' },
        { name: LLM, kind: 'local' },
      ],
      llmBudget: DEFAULT_BUCKET.llmBudget,
    });

    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', trials: 16, stopReason: 'trials' });
    const llm = (summary.llm as { perModel: Record<string, Record<string, number>>; largestModel: string }).perModel;
    expect(Object.keys(llm)).toEqual([LLM]);
    expect(llm[LLM].calls).toBeGreaterThan(0);
    expect(llm[LLM].calls).toBeLessThanOrEqual(DEFAULT_BUCKET.llmBudget);
    expect(llm[LLM].promptTokens).toBeGreaterThan(0);
    expect(llm[LLM].completionTokens).toBeGreaterThan(0);
    expect(llm[LLM]).toMatchObject({ costUsd: 0, estimatedCalls: 0, failedCalls: 0 });
    const calls = lines.filter((l) => l.type === 'llm_call');
    expect(calls).toHaveLength(llm[LLM].calls);
    // Each call ran on the threads the idle cores allowed then, and the summary has their mean.
    const threads = calls.map((c) => c.threads as number);
    for (const n of threads) expect(n >= 1 && n <= Math.min(4, os.availableParallelism())).toBe(true);
    expect(llm[LLM].threadsPerCall).toBeCloseTo(threads.reduce((a, b) => a + b, 0) / threads.length, 1);
    // Cheap first: the built-in proposer took most turns.
    const perModel = summary.perModel as Record<string, { expansions: number }>;
    expect(perModel.builtin.expansions).toBeGreaterThan(perModel[LLM].expansions);

    // SmolLM2's proposals were applied: a child it expanded, or a correction the bridge built
    // and scored (which takes the place of the built-in proposer's regressing child unless it
    // scores lower still).
    const applied = lines.filter(
      (l) => (l.type === 'expand' && l.model === LLM && l.ok) || (l.type === 'escalate' && l.largeModel === LLM && l.largeScore !== undefined),
    );
    expect(applied.length).toBeGreaterThan(0);

    const { records } = runPython<{ records: number }>(COUNT_RECORDS, [workDir]);
    expect(records).toBe(16);
  }, 400_000);

  it.each([
    ['missing', null, /^colt: error: the bundled model .*smollm2-135m-instruct\.q4_1\.gguf is missing: run `bash scripts\/setup`, or pass --no-llm$/],
    ['corrupt', 'not a model\n', /^colt: error: the bundled model .* cannot be used \(not a GGUF file\): run `bash scripts\/setup`, or pass --no-llm$/],
  ])('stops before tuning when the model is %s: one line, exit 2', async (_what, content, line) => {
    const modelsDir = fs.mkdtempSync(path.join(tmp, 'models-'));
    if (content !== null) fs.writeFileSync(path.join(modelsDir, path.basename(BUNDLED_MODEL.file)), content);
    const workDir = path.join(modelsDir, 'run');
    const run = await runColt(['tune', '--workload', 'GMM:0', '--trials', '8', '--work-dir', workDir], {
      env: userEnv({ COLT_MODELS_DIR: modelsDir }),
    });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(line)]);
    expect(run.stdout).toBe('');
    expect(fs.existsSync(path.join(workDir, 'database_tuning_record.json'))).toBe(false);
  }, 60_000);

  it('runs the built-in proposer alone with --no-llm, model or not', async () => {
    const workDir = path.join(tmp, 'no-llm');
    const run = await runColt(['tune', '--workload', 'GMM:0', '--trials', '8', '--per-iter', '8', '--work-dir', workDir, '--no-llm'], {
      env: userEnv({ COLT_MODELS_DIR: path.join(tmp, 'nowhere') }),
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Proposers: builtin \(built-in\); no LLM\.$/m);
    expect(run.stdout).toMatch(/Proposer: built-in \(no LLM configured\)\.$/m);
    const summary = JSON.parse(fs.readFileSync(path.join(workDir, 'colt-summary.json'), 'utf8'));
    expect(summary).toMatchObject({ trials: 8, llm: null });
  }, 300_000);
});
