// `colt tune --models ... --resume` after `kill -9`: the LLM budget is the run's, not each
// process's. Two scripted OpenAI-compatible models on a real server on 127.0.0.1, the compiled
// CLI, the real bridge; the server's ledger says what was really spent.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { readLlmLedger } from '../../src/tuning/llm-ledger';
import { answer, FakeOpenAI } from '../llm/fake-openai';
import { ensureBuilt, isAlive, runColt, startColt, userEnv } from './colt-process';

const KEY = 'sk-colt-resume-0123456789';
const BUDGET = 20;
const MODELS = ['tiny', 'big'];

let tmp: string;
let server: FakeOpenAI;

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-llm-resume-'));
  // Each model hands the next turn to the other.
  server = await FakeOpenAI.start({
    script: ({ model }) => ({ content: answer(['MutateTileSize'], model === 'tiny' ? 'big' : 'tiny') }),
    apiKey: KEY,
  });
}, 180_000);

afterAll(async () => {
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Calls the server answered per model so far. */
function served(): Record<string, number> {
  return Object.fromEntries(MODELS.map((m) => [m, server.chats.filter((c) => c.model === m).length]));
}

const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

interface Account {
  calls: number;
  proposals: number;
  hits: number;
  promptTokens: number;
}

describe('colt tune --models --resume after kill -9', () => {
  it('spends one LLM budget across both runs, and the summary carries on the first run\'s counts', async () => {
    const workDir = path.join(tmp, 'gmm');
    const models = path.join(tmp, 'models.json');
    fs.writeFileSync(
      models,
      JSON.stringify({
        models: [
          { name: 'tiny', params: 1.35e8, price: { inputPerMTok: 0.01, outputPerMTok: 0.02 } },
          { name: 'big', params: 1e12, price: { inputPerMTok: 2, outputPerMTok: 8 } },
        ].map((m) => ({ ...m, baseURL: server.baseURL, apiKeyEnv: 'COLT_E2E_KEY', timeoutMs: 10_000 })),
        llmBudget: BUDGET,
        lambda: 0.3,
      }),
    );
    const tune = ['tune', '--workload', 'GMM:0', '--trials', '24', '--per-iter', '4', '--work-dir', workDir, '--models', models, '--json'];
    const env = userEnv({ COLT_E2E_KEY: KEY });

    // The first run is killed as its second batch lands (the first is measured before any
    // expansion, so before any LLM call), with LLM calls going out for the next.
    const colt = startColt(tune, { env });
    let bridgePid: number | undefined;
    let landed = 0;
    colt.onLine((line) => {
      if (bridgePid !== undefined || !line.startsWith('{') || (JSON.parse(line) as { type: string }).type !== 'measure') return;
      if (++landed < 2) return;
      const pgrep = execFileSync('pgrep', ['-P', String(colt.child.pid), '-f', 'colt_bridge'], { encoding: 'utf8' });
      bridgePid = Number(pgrep.trim().split('\n')[0]);
      colt.child.kill('SIGKILL');
    });
    const killed = await colt.done;
    expect(killed.signal).toBe('SIGKILL');
    // The orphaned bridge notices and leaves before the resumed run opens the database.
    const until = Date.now() + 20_000;
    while (bridgePid && isAlive(bridgePid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const first = served();
    expect(sum(first)).toBeGreaterThan(0);
    expect(sum(first)).toBeLessThan(BUDGET);

    // The ledger booked every call the server saw, before it went out (and at most one that
    // never left); the checkpoint, written per batch, may be behind it.
    const checkpoint = JSON.parse(fs.readFileSync(path.join(workDir, 'colt-checkpoint.json'), 'utf8')) as {
      llm: { pool: { calls: number; accounts: Record<string, Account> } };
    };
    const saved = checkpoint.llm.pool;
    const ledger = readLlmLedger(workDir);
    if (!ledger) throw new Error(`no LLM ledger in ${workDir}`);
    for (const m of MODELS) expect(ledger.perModel[m]).toBeGreaterThanOrEqual(Math.max(first[m], saved.accounts[m].calls));
    expect(ledger.calls - sum(first)).toBeLessThanOrEqual(1);

    const resumed = await runColt([...tune, '--resume'], { env });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const lines = resumed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    const summary = lines[lines.length - 1] as unknown as {
      type: string;
      trials: number;
      llm: { perModel: Record<string, Account>; totals: { calls: number }; budgetSwitch: { calls: number } | null };
    };
    expect(summary).toMatchObject({ type: 'summary', trials: 24 });

    // One budget for the run: what the server answered over both processes stays within it,
    // and the resumed run spent the rest of it, not a fresh one.
    const total = served();
    expect(sum(total)).toBeLessThanOrEqual(BUDGET);
    expect(sum(total)).toBeGreaterThan(sum(first));
    expect(summary.llm.totals.calls).toBe(BUDGET);
    expect(summary.llm.budgetSwitch).toMatchObject({ calls: BUDGET });
    expect(lines.filter((l) => l.type === 'llm_call')).toHaveLength(sum(total) - sum(first));

    // The summary's per-model counts carry on from the first run's.
    for (const m of MODELS) {
      const mine = summary.llm.perModel[m];
      expect(mine.calls).toBeGreaterThanOrEqual(ledger.perModel[m]);
      expect(mine.calls - total[m]).toBeGreaterThanOrEqual(0);
      expect(mine.proposals).toBeGreaterThanOrEqual(saved.accounts[m].proposals);
      expect(mine.hits).toBeGreaterThanOrEqual(saved.accounts[m].hits);
      // Tokens are booked when the answer is in: an answer the kill cut off was never booked.
      expect(mine.promptTokens).toBeGreaterThanOrEqual(saved.accounts[m].promptTokens);
      expect(mine.promptTokens).toBeLessThanOrEqual(server.seen(m).promptTokens);
    }
    expect(sum(Object.fromEntries(MODELS.map((m) => [m, summary.llm.perModel[m].calls - total[m]])))).toBeLessThanOrEqual(1);
    for (const file of ['colt-checkpoint.json', 'colt-llm-ledger.jsonl']) expect(fs.readFileSync(path.join(workDir, file), 'utf8')).not.toContain(KEY);
    expect(resumed.stdout + resumed.stderr).not.toContain(KEY);
  }, 900_000);
});
