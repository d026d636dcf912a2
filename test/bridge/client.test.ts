// The bridge client and supervisor against the real Python bridge and real TVM: one bridge,
// one GMM:0 task, every RPC once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BridgeScheduleSpace, startBridge, type BridgeProcess } from '../../src/bridge';
import { Code, ColtError } from '../../src/errors';
import type { OpenTaskResponse__Output } from '../../src/generated/colt/v1/OpenTaskResponse';
import { isAlive as alive } from '../cli/colt-process';

const TARGET = JSON.stringify({ kind: 'llvm', 'num-cores': 2 });

async function rejection(p: Promise<unknown>): Promise<ColtError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ColtError);
    return err as ColtError;
  }
  throw new Error('expected the call to fail');
}

describe('BridgeClient on a real bridge', () => {
  let bridge: BridgeProcess;
  let workDir: string;
  let task: OpenTaskResponse__Output;
  let traces: string[];

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-client-'));
    bridge = await startBridge();
  }, 120_000);

  afterAll(async () => {
    await bridge?.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('starts the bridge as a child on a loopback port and answers Health', async () => {
    expect(bridge.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const health = await bridge.client.health();
    expect(health.status).toBe('SERVING');
    expect(health.tvm_version).toMatch(/^0\.27/);
    expect(health.pid).toBe(bridge.pid);
  });

  it('opens GMM:0 with its design spaces and the CPU mutators, and creates the database', async () => {
    task = await bridge.client.openTask({
      workload: 'GMM:0',
      target_json: TARGET,
      work_dir: workDir,
      seed: 0,
      cost_model: 'xgb',
      measure: { number: 2, repeat: 1, min_repeat_ms: 10, timeout_sec: 30 },
    });
    expect(task.task_id).not.toBe('');
    expect(task.flop).toBe(2 * 128 * 128 * 128);
    expect(task.design_spaces.length).toBeGreaterThan(0);
    expect(task.mutators.map((m) => m.name)).toEqual(expect.arrayContaining(['MutateTileSize', 'MutateParallel']));
    expect(JSON.parse(task.target_json)).toMatchObject({ kind: 'llvm', 'num-cores': 2 });
    expect(fs.existsSync(path.join(workDir, 'database_workload.json'))).toBe(true);
  }, 120_000);

  it('samples distinct initial schedules', async () => {
    const response = await bridge.client.sampleInitial({ task_id: task.task_id, count: 4, seed: 1 });
    expect(response.candidates.length).toBeGreaterThanOrEqual(2);
    traces = response.candidates.map((c) => c.trace_json);
    expect(new Set(response.candidates.map((c) => c.shash)).size).toBe(response.candidates.length);
    const tile = response.candidates[0].decisions.find((d) => d.kind === 'SamplePerfectTile');
    expect(tile && JSON.parse(tile.value_json)).toEqual(expect.any(Array));
  }, 60_000);

  it('applies a mutator, and reports an unknown mutator as UNKNOWN_TRANSFORMATION', async () => {
    // A mutator may find nothing to change on one seed; a few seeds make that vanishingly rare.
    let applied;
    for (let seed = 0; seed < 5 && !applied?.candidate; seed++) {
      applied = await bridge.client.apply({
        task_id: task.task_id,
        trace_json: traces[0],
        transformations: [{ mutator: 'MutateTileSize' }],
        seed,
      });
    }
    expect(applied?.error).toBe('APPLY_OK');
    expect(applied?.outcomes).toEqual([expect.objectContaining({ applied: true })]);
    expect(applied?.candidate?.trace_json).not.toBe(traces[0]);

    const unknown = await bridge.client.apply({
      task_id: task.task_id,
      trace_json: traces[0],
      transformations: [{ mutator: 'MutateEverything' }],
      seed: 0,
    });
    expect(unknown.candidate).toBeNull();
    expect(unknown.error).toBe('UNKNOWN_TRANSFORMATION');
    expect(unknown.outcomes).toEqual([expect.objectContaining({ applied: false, code: 'UNKNOWN_TRANSFORMATION' })]);
    expect(unknown.message).toContain('MutateEverything');
  }, 60_000);

  it('predicts one finite score per trace', async () => {
    const response = await bridge.client.predict({ task_id: task.task_id, trace_json: traces });
    expect(response.scores).toHaveLength(traces.length);
    for (const s of response.scores) expect(Number.isFinite(s)).toBe(true);
  }, 60_000);

  it('measures two traces with positive run times and commits them to the database', async () => {
    const response = await bridge.client.measure({ task_id: task.task_id, trace_json: traces.slice(0, 2) });
    expect(response.results).toHaveLength(2);
    for (const r of response.results) {
      expect(r.error).toBe('MEASURE_OK');
      expect(r.run_secs.length).toBeGreaterThan(0);
      for (const s of r.run_secs) expect(s).toBeGreaterThan(0);
    }
    const records = fs.readFileSync(path.join(workDir, 'database_tuning_record.json'), 'utf8').trim().split('\n');
    expect(records).toHaveLength(2);
  }, 180_000);

  it('serves the search core through BridgeScheduleSpace, directed edits included', async () => {
    const space = new BridgeScheduleSpace(bridge.client, task.task_id, task.mutators);
    const [first] = await space.sampleInitial(1, 7);
    const tile = first.decisions.find(
      (d) => d.kind === 'SamplePerfectTile' && Array.isArray(d.value) && (d.value as number[])[0] !== (d.detail as { extent: number }).extent,
    );
    expect(tile).toBeDefined();
    const { extent, n } = tile!.detail as { extent: number; n: number };
    // All of the loop in the outermost tile: always a valid tiling, and not the current one.
    const value = [extent, ...Array(n - 1).fill(1)];
    const outcome = await space.apply(first.traceJson, [{ kind: 'setDecision', instIndex: tile!.instIndex, value }], 0);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.candidate.decisions.find((d) => d.instIndex === tile!.instIndex)?.value).toEqual(value);

    const bad = await space.apply(first.traceJson, [{ kind: 'setDecision', instIndex: tile!.instIndex, value: [3, 5, 7, 11] }], 0);
    expect(bad).toMatchObject({ ok: false, code: 'INVALID_DECISION' });
    expect(await space.predict([first.traceJson, outcome.candidate.traceJson])).toHaveLength(2);
    // What a prompt shows of each schedule: its post-processed TVMScript, the edit visible in it.
    const scripts = await space.describe([first.traceJson, outcome.candidate.traceJson]);
    expect(scripts).toHaveLength(2);
    for (const script of scripts) expect(script).toContain('@T.prim_func(s_tir=True)');
    expect(scripts[1]).not.toBe(scripts[0]);
    expect(await space.describe([])).toEqual([]);
  }, 60_000);

  it('rejects an unknown workload with INVALID_ARGUMENT and the bridge\'s one-line reason', async () => {
    const err = await rejection(bridge.client.openTask({ workload: 'NOPE:0', target_json: TARGET }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.details.rpc).toBe('OpenTask');
    expect(err.message).toMatch(/unknown workload 'NOPE'/);
    expect(err.message).not.toMatch(/\n/);
  }, 60_000);

  it('reports a closed task as NOT_FOUND', async () => {
    await bridge.client.closeTask({ task_id: task.task_id });
    const err = await rejection(bridge.client.predict({ task_id: task.task_id, trace_json: traces }));
    expect(err.code).toBe(Code.NotFound);
  }, 60_000);

  it('stop() leaves no process behind, and later calls are UNAVAILABLE', async () => {
    const pid = bridge.pid;
    expect(alive(pid)).toBe(true);
    const exit = await bridge.stop();
    expect(exit.expected).toBe(true);
    expect(bridge.running).toBe(false);
    expect(alive(pid)).toBe(false);
    // Nor any build or run worker in its process group.
    expect(alive(-pid)).toBe(false);
    const err = await rejection(bridge.client.health());
    expect(err.code).toBe(Code.Unavailable);
  }, 30_000);
});

describe('startBridge', () => {
  it('says how to fix a missing venv', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-novenv-'));
    try {
      await expect(startBridge({ repoRoot: root })).rejects.toThrow(
        'Python venv not found at .venv/: run `bash scripts/setup`',
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
