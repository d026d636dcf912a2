// `colt tune --models`: three scripted OpenAI-compatible models on a real server on 127.0.0.1
// drive a real tuning run on the real TVM bridge; the summary's per-model accounting must
// equal what the server saw, and the key must appear nowhere.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { FakeOpenAI, unusedBaseURL, type ChatRequest, type Reply } from '../llm/fake-openai';
import { ensureBuilt, runColt, runPython, userEnv } from './colt-process';

const KEY = 'sk-colt-e2e-secret-0123456789';

/** Good answers, with a malformed one and an unknown transformation now and then. */
function script(req: ChatRequest): Reply {
  if (req.model === 'tiny' && req.n % 4 === 0) return { content: 'Sure! Here is my plan: {"transformations": [' };
  if (req.model === 'mid' && req.n % 3 === 0) {
    return { content: '{"transformations": [{"mutator": "MutateEverything"}], "next_model": "big"}' };
  }
  const mutators = req.model === 'mid' ? ['mutate_unroll', 'MutateTileSize'] : ['MutateTileSize'];
  // The largest model hands its children to each smaller one in turn; they hand back to each other.
  const next = req.model === 'big' ? (req.n % 2 === 0 ? 'mid' : 'tiny') : req.model === 'tiny' ? 'mid' : 'tiny';
  return {
    content: JSON.stringify({ transformations: mutators.map((m) => ({ mutator: m })), next_model: next }),
  };
}

let tmp: string;
let server: FakeOpenAI;

function modelsFile(name: string, baseURL: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(tmp, name);
  const models = [
    { name: 'tiny', params: 1.35e8, price: { inputPerMTok: 0.01, outputPerMTok: 0.02 } },
    { name: 'mid', params: 8e9, price: { inputPerMTok: 0.2, outputPerMTok: 0.8 } },
    { name: 'big', params: 1e12, price: { inputPerMTok: 2, outputPerMTok: 8 } },
  ].map((m) => ({ ...m, baseURL, apiKeyEnv: 'COLT_E2E_KEY', timeoutMs: 10_000 }));
  fs.writeFileSync(file, JSON.stringify({ models, llmBudget: 40, lambda: 0.3, courseAlteration: { streak: 2 }, ...extra }));
  return file;
}

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-llm-e2e-'));
  server = await FakeOpenAI.start({ script, apiKey: KEY });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('colt tune --models', () => {
  it('tunes with three LLMs, accounts for every call, and never shows the key', async () => {
    const workDir = path.join(tmp, 'gmm');
    const run = await runColt(
      ['tune', '--workload', 'GMM:0', '--trials', '16', '--per-iter', '8', '--work-dir', workDir, '--models', modelsFile('models.json', server.baseURL), '--json'],
      { env: userEnv({ COLT_E2E_KEY: KEY }) },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const summary = lines[lines.length - 1];
    expect(summary.type).toBe('summary');
    expect(summary.trials).toBe(16);

    // Every model was called, and the summary's requests and tokens equal the server's ledger.
    for (const name of ['tiny', 'mid', 'big']) {
      const seen = server.seen(name);
      const mine = summary.llm.perModel[name];
      expect(seen.requests).toBeGreaterThan(0);
      expect(mine.requests).toBe(seen.requests);
      expect(mine.promptTokens).toBe(seen.promptTokens);
      expect(mine.completionTokens).toBe(seen.completionTokens);
    }
    const total = Object.values(summary.llm.perModel as Record<string, { calls: number }>).reduce((n, m) => n + m.calls, 0);
    expect(total).toBeLessThanOrEqual(40);
    // The malformed and unknown answers were counted as errors, not crashes.
    expect(summary.llm.perModel.tiny.errors + summary.llm.perModel.mid.errors).toBeGreaterThan(0);
    // Joint action: children were labelled by the model their parent's expander chose.
    const expands = lines.filter((e) => e.type === 'expand' && e.ok);
    expect(new Set(expands.map((e) => e.model))).toEqual(new Set(['tiny', 'mid', 'big']));
    // tiny names mid; when its answer is malformed the built-in proposer fills in, keeping tiny.
    const fromTiny = expands.filter((x) => x.model === 'tiny').map((e) => e.nextModel);
    expect(fromTiny).toContain('mid');
    for (const next of fromTiny) expect(['mid', 'tiny']).toContain(next);
    expect(lines.filter((e) => e.type === 'llm_call').length).toBe(total);
    // Every prompt showed the schedule as the bridge printed it, post-processed (the matmul's
    // reduction split into Z_init and Z_update), and some showed the parent's too.
    expect(server.chats.length).toBeGreaterThan(0);
    for (const chat of server.chats) {
      const user = chat.messages[chat.messages.length - 1].content;
      const leaf = user.split('\n## Parent')[0];
      expect(leaf).toContain('@T.prim_func(s_tir=True)');
      expect(leaf).toContain('with T.sblock("Z_update"):');
    }
    expect(server.chats.some((c) => /## Parent[^]*```python\n@I\.ir_module/.test(c.messages[c.messages.length - 1].content))).toBe(true);

    // The key is nowhere: not in what colt printed, not in anything it wrote.
    expect(run.stdout + run.stderr).not.toContain(KEY);
    for (const file of fs.readdirSync(workDir)) {
      expect(fs.readFileSync(path.join(workDir, file), 'utf8')).not.toContain(KEY);
    }
    // And the database is TVM's own.
    const count = runPython<{ n: number }>(
      'import sys, json\nfrom tvm.s_tir import meta_schedule as ms\n' +
        'print(json.dumps({"n": len(ms.database.JSONDatabase(work_dir=sys.argv[1]).get_all_tuning_records())}))',
      [workDir],
    );
    expect(count.n).toBe(16);
  }, 400_000);

  it.each([
    ['an invalid models.json', () => modelsFile('bad.json', server.baseURL, { lambda: 7 }), { COLT_E2E_KEY: KEY }, /lambda: expected a number in \[0, 1\]/],
    ['a missing key variable', () => modelsFile('nokey.json', server.baseURL), {}, /COLT_E2E_KEY is not set/],
    ['a rejected key', () => modelsFile('badkey.json', server.baseURL), { COLT_E2E_KEY: 'sk-wrong' }, /rejected the API key/],
  ])('stops before tuning on %s, with one line and exit 2', async (_what, file, env, pattern) => {
    const workDir = path.join(tmp, `bad-${Math.random().toString(36).slice(2)}`);
    const run = await runColt(['tune', '--workload', 'GMM:0', '--trials', '8', '--work-dir', workDir, '--models', file()], {
      env: userEnv(env),
    });
    expect(run.code).toBe(2);
    const errLines = run.stderr.trim().split('\n');
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/^colt: error: /);
    expect(errLines[0]).toMatch(pattern);
    expect(run.stderr).not.toContain('sk-wrong');
    expect(fs.existsSync(path.join(workDir, 'database_tuning_record.json'))).toBe(false);
  }, 60_000);

  it('stops before tuning when an endpoint is unreachable', async () => {
    const run = await runColt(
      ['tune', '--workload', 'GMM:0', '--trials', '8', '--work-dir', path.join(tmp, 'unreachable'), '--models', modelsFile('down.json', await unusedBaseURL())],
      { env: userEnv({ COLT_E2E_KEY: KEY }) },
    );
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^colt: error: .*127\.0\.0\.1/);
  }, 60_000);
});
