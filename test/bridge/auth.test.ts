// Attacks on a spawned bridge tried for real from another process (this one): without its token,
// or with a wrong one, it refuses OpenTask and every other call but health; and it, with its
// build workers, starts without the run's API keys or the daemon's token in its environment.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BridgeClient, startBridge, type BridgeProcess } from '../../src/bridge';
import { Code } from '../../src/errors';
import { ensureBuilt, startColt, userEnv } from '../cli/colt-process';
import { FakeOpenAI } from '../llm/fake-openai';

/** The variables a process started with, by name. */
function environOf(pid: number): Map<string, string> {
  const entries = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

const OPEN = {
  workload: 'NOPE:1',
  target_json: '{"kind":"llvm"}',
  work_dir: path.join(os.tmpdir(), 'colt-bridge-attack'),
  measure: { number: 1, repeat: 1, min_repeat_ms: 0, timeout_sec: 30 },
};

describe('a bridge started by the supervisor', () => {
  let bridge: BridgeProcess;
  const KEY_VAR = 'COLT_AUTH_TEST_API_KEY';

  beforeAll(async () => {
    process.env[KEY_VAR] = 'sk-must-not-reach-the-bridge';
    process.env.COLT_TOKEN = 'd4'.repeat(32);
    try {
      bridge = await startBridge({ withoutEnv: [KEY_VAR] });
    } finally {
      delete process.env[KEY_VAR];
      delete process.env.COLT_TOKEN;
    }
  }, 300_000);

  afterAll(async () => {
    await bridge?.stop();
  });

  test('refuses OpenTask and the rest from a caller without its token; health answers anyone', async () => {
    for (const stranger of [new BridgeClient(bridge.address), new BridgeClient(bridge.address, { token: 'e5'.repeat(32) })]) {
      try {
        await expect(stranger.openTask(OPEN)).rejects.toMatchObject({
          code: Code.Unauthenticated,
          message: expect.stringContaining('OpenTask: this bridge needs its token'),
        });
        await expect(stranger.getTask({ task_id: 'nope' })).rejects.toMatchObject({ code: Code.Unauthenticated });
        await expect(stranger.measure({ task_id: 'nope', trace_json: [] })).rejects.toMatchObject({ code: Code.Unauthenticated });
        await expect(stranger.closeTask({ task_id: 'nope' })).rejects.toMatchObject({ code: Code.Unauthenticated });
        expect((await stranger.health()).status).toBe('SERVING');
      } finally {
        stranger.close();
      }
    }
    // Its own client has the token: the call reaches the service and fails on its merits.
    await expect(bridge.client.openTask(OPEN)).rejects.toMatchObject({ code: Code.InvalidArgument, message: expect.stringMatching(/NOPE/) });
  });

  test('starts without the API-key variables it was told to leave out, nor the daemon token', () => {
    const env = environOf(bridge.pid);
    expect(env.has('PATH')).toBe(true);
    expect(env.has(KEY_VAR)).toBe(false);
    expect(env.has('COLT_TOKEN')).toBe(false);
    // Its token never was on its command line, which every user can read.
    const argv = fs.readFileSync(`/proc/${bridge.pid}/cmdline`, 'utf8');
    expect(argv).toContain('colt_bridge');
    expect(argv).not.toMatch(/[0-9a-f]{64}/);
  });
});

test("`colt tune --models` starts its bridge without the models file's key variable", async () => {
  ensureBuilt();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-bridge-env-'));
  const server = await FakeOpenAI.start({
    script: () => ({ content: '{"transformations": [{"mutator": "MutateTileSize"}]}' }),
    apiKey: 'sk-colt-env-test-0123456789',
  });
  const models = path.join(tmp, 'models.json');
  fs.writeFileSync(
    models,
    JSON.stringify({ models: [{ name: 'm', params: 1e9, baseURL: server.baseURL, apiKeyEnv: 'COLT_ENV_TEST_KEY', timeoutMs: 10_000 }] }),
  );
  const colt = startColt(
    ['tune', '--workload', 'GMM:0', '--trials', '64', '--per-iter', '8', '--work-dir', path.join(tmp, 'run'), '--models', models, '--json'],
    { env: userEnv({ COLT_ENV_TEST_KEY: 'sk-colt-env-test-0123456789' }) },
  );
  try {
    // Read the bridge's environment as soon as it exists (its command line names colt_bridge
    // only once it has been exec'd, with the environment it was given).
    let ended = false;
    void colt.done.then(() => (ended = true));
    let pids: string[] = [];
    for (const giveUp = Date.now() + 600_000; pids.length === 0; ) {
      if (ended) throw new Error(`colt tune ended before it started a bridge: ${(await colt.done).stderr}`);
      if (Date.now() > giveUp) throw new Error('no bridge after 600 s');
      try {
        pids = execFileSync('pgrep', ['-P', String(colt.child.pid), '-f', 'colt_bridge'], { encoding: 'utf8' }).trim().split('\n');
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // pgrep exits 1 while there is none yet
      }
    }
    expect(pids).toHaveLength(1);
    const env = environOf(Number(pids[0]));
    expect(env.has('PATH')).toBe(true);
    expect(env.has('COLT_ENV_TEST_KEY')).toBe(false);
    expect(environOf(colt.child.pid as number).has('COLT_ENV_TEST_KEY')).toBe(true);
  } finally {
    // The second signal leaves at once (the first would let the batch in flight finish).
    const winding = new Promise<void>((resolve) => {
      colt.child.stderr?.on('data', (chunk: Buffer | string) => {
        if (String(chunk).includes('finishing the batch in flight')) resolve();
      });
      void colt.done.then(() => resolve());
    });
    colt.child.kill('SIGTERM');
    await winding;
    if (colt.child.exitCode === null) colt.child.kill('SIGTERM');
    await colt.done;
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
