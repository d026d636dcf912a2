// `colt tune --bucket offline-3` for real, with Qwen2.5-Coder-1.5B-Instruct beside SmolLM2 and
// the built-in proposer, when the 1.1 GB model is in the models folder; `npm test` downloads
// nothing, so without it the test is skipped (reported as skipped, with the reason printed).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BUNDLED_MODEL, QWEN_MEMBER } from '../../src/llm/default-bucket';
import { QWEN_CODER_1_5B } from '../../src/llm/fetch';
import { ensureBuilt, REPO, runColt } from './colt-process';

type Line = { type: string; [key: string]: unknown };
type Account = { calls: number; promptTokens: number; completionTokens: number; secondsPerCall: number | null; costUsd: number };

const modelsDir = process.env.COLT_MODELS_DIR?.trim() ? path.resolve(process.env.COLT_MODELS_DIR.trim()) : path.join(REPO, 'models');
const qwenFile = path.join(modelsDir, QWEN_CODER_1_5B.file);
// Size only: the run itself checks the SHA-256 (once, remembered beside the file).
const present = fs.existsSync(qwenFile) && fs.statSync(qwenFile).size === QWEN_CODER_1_5B.size;
if (!present) {
  process.stdout.write(`skipped: ${qwenFile} is not there (\`colt models fetch qwen2.5-coder-1.5b\` fetches it, 1.1 GB)\n`);
}

let tmp: string;
beforeAll(() => {
  if (!present) return;
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-offline-3-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

(present ? describe : describe.skip)('colt tune --bucket offline-3 with Qwen2.5-Coder-1.5B', () => {
  it('loads all three members, holds the LLMs to the budget, and accounts each model’s calls, tokens and seconds', async () => {
    const workDir = path.join(tmp, 'gmm');
    const run = await runColt(['tune', '--workload', 'GMM:0', '--bucket', 'offline-3', '--trials', '8', '--per-iter', '4', '--llm-budget', '3', '--work-dir', workDir, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
    expect(lines[0]).toMatchObject({
      type: 'task',
      proposers: [
        { name: 'builtin', kind: 'builtin' },
        { name: BUNDLED_MODEL.name, kind: 'local' },
        { name: QWEN_MEMBER.name, kind: 'local' },
      ],
      llmBudget: 3,
    });
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', trials: 8 });
    const llm = summary.llm as { perModel: Record<string, Account>; totals: { calls: number }; largestModel: string };
    expect(llm.largestModel).toBe(QWEN_MEMBER.name);
    expect(Object.keys(llm.perModel)).toEqual([BUNDLED_MODEL.name, QWEN_MEMBER.name]);
    expect(llm.totals.calls).toBeGreaterThan(0);
    expect(llm.totals.calls).toBeLessThanOrEqual(3);
    for (const account of Object.values(llm.perModel)) {
      expect(account.costUsd).toBe(0);
      if (account.calls > 0) {
        expect(account.promptTokens).toBeGreaterThan(0);
        expect(account.secondsPerCall).toBeGreaterThan(0);
      } else {
        expect(account.secondsPerCall).toBeNull();
      }
    }
    // Every call is reported as it happens, by the model that made it.
    const calls = lines.filter((l) => l.type === 'llm_call');
    expect(calls).toHaveLength(llm.totals.calls);
    for (const call of calls) expect([BUNDLED_MODEL.name, QWEN_MEMBER.name]).toContain(call.model);
  }, 15 * 60_000);
});
