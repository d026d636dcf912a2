// colt-checkpoint.json on disk: written atomically, read back whole (a damaged one refused with
// one line), refused for another run, and written coalesced: per batch, not per LLM call.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code, ColtError } from '../../src/errors';
import type { LlmRunState, SpendListener } from '../../src/llm';
import { silentLogger } from '../../src/log';
import { parseTuneOptions } from '../../src/options/tune';
import { BuiltinProposer, Search, type CommittedTrial, type Proposal, type ProposalContext, type Proposer } from '../../src/search';
import {
  CHECKPOINT_FILE,
  CheckpointWriter,
  checkTuningRecords,
  loadResumePoint,
  readCheckpoint,
  sameTarget,
  writeCheckpoint,
  type Checkpoint,
} from '../../src/tuning/checkpoint';
import { LLM_LEDGER_FILE, LlmLedger, readLlmLedger } from '../../src/tuning/llm-ledger';
import { TuneSession } from '../../src/tuning/session';
import { MemoryHost } from '../jobs/memory-host';
import { fakeClock, FakeSpace } from '../search/fake-space';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-checkpoint-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function checkpointOfARun(): Promise<Checkpoint> {
  const search = new Search({ maxTrials: 16, trialsPerIter: 8 }, { space: new FakeSpace(), proposers: { builtin: new BuiltinProposer() }, clock: fakeClock().now });
  await search.run();
  return {
    version: 1,
    workload: 'GMM:0',
    target: { kind: 'llvm', 'num-cores': 2 },
    workloadKey: '0xabc',
    savedAt: new Date(0).toISOString(),
    search: search.snapshot(),
  };
}

function oneLineUsageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ColtError);
    expect((err as ColtError).code).toBe(Code.InvalidArgument);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('no error');
}

describe('checkpoints', () => {
  it('go to disk whole and come back equal, leaving no temporary file', async () => {
    const checkpoint = await checkpointOfARun();
    writeCheckpoint(dir, checkpoint);
    writeCheckpoint(dir, checkpoint);
    expect(fs.readdirSync(dir)).toEqual([CHECKPOINT_FILE]);
    expect(readCheckpoint(dir)).toEqual(JSON.parse(JSON.stringify(checkpoint)));
  });

  it("carry the LLM side's state as it was given; one written before it existed still loads, without", async () => {
    const checkpoint = await checkpointOfARun();
    const llm = { version: 1, pool: { version: 1, calls: 7, costUsd: 0.5, accounts: {}, recentErrors: {}, budgetSwitch: null } };
    writeCheckpoint(dir, { ...checkpoint, llm });
    expect(loadResumePoint(dir, 'GMM:0', { kind: 'llvm', 'num-cores': 2 })?.llm).toEqual(llm);
    writeCheckpoint(dir, checkpoint);
    const older = loadResumePoint(dir, 'GMM:0', { kind: 'llvm', 'num-cores': 2 });
    expect(older?.search.version).toBe(1);
    expect(older?.llm).toBeUndefined();
  });

  it('are none in a fresh work dir, and a broken one is a usage error', () => {
    expect(readCheckpoint(dir)).toBeUndefined();
    fs.writeFileSync(path.join(dir, CHECKPOINT_FILE), '{"version":1,');
    expect(oneLineUsageError(() => readCheckpoint(dir))).toMatch(/is not a COLT checkpoint \(not valid JSON\)/);
    fs.writeFileSync(path.join(dir, CHECKPOINT_FILE), '{"version":99}');
    expect(oneLineUsageError(() => readCheckpoint(dir))).toMatch(/is not a COLT checkpoint this version can read/);
  });

  it('resume only the same workload on the same target', async () => {
    writeCheckpoint(dir, await checkpointOfARun());
    expect(loadResumePoint(dir, 'GMM:0', { 'num-cores': 2, kind: 'llvm' })?.workloadKey).toBe('0xabc');
    expect(oneLineUsageError(() => loadResumePoint(dir, 'C2D:0', { kind: 'llvm', 'num-cores': 2 }))).toMatch(
      /^--resume: .* holds a run of GMM:0 on \{"kind":"llvm","num-cores":2\}, not C2D:0 on/,
    );
    expect(oneLineUsageError(() => loadResumePoint(dir, 'GMM:0', { kind: 'llvm', 'num-cores': 4 }))).toMatch(/not GMM:0 on \{"kind":"llvm","num-cores":4\}/);
  });

  it('compare targets whatever their key order', () => {
    expect(sameTarget({ kind: 'llvm', 'num-cores': 2, mcpu: 'x' }, { mcpu: 'x', 'num-cores': 2, kind: 'llvm' })).toBe(true);
    expect(sameTarget({ kind: 'llvm' }, { kind: 'cuda' })).toBe(false);
  });
});

describe('a damaged checkpoint', () => {
  /** Writes a good checkpoint, damages its JSON with `damage`, and returns the error line. */
  async function refusal(damage: (json: Record<string, any>) => void): Promise<string> {
    const json = JSON.parse(JSON.stringify(await checkpointOfARun())) as Record<string, any>;
    damage(json);
    fs.writeFileSync(path.join(dir, CHECKPOINT_FILE), JSON.stringify(json));
    return oneLineUsageError(() => readCheckpoint(dir));
  }

  it('is refused whole, naming where, in one line', async () => {
    // The run's own checkpoint has nodes besides the root, and measurements.
    const good = await checkpointOfARun();
    expect(good.search.tree.nodes.length).toBeGreaterThan(2);
    expect(good.search.measurements.length).toBeGreaterThan(0);

    expect(await refusal((j) => delete j.search.tree.nodes[2].visits)).toMatch(/is damaged \(search\.tree\.nodes\.2\.visits: .*\): remove it to resume from the database alone$/);
    expect(await refusal((j) => (j.search.tree.nodes[1].candidate.shash = 7))).toMatch(/is damaged \(search\.tree\.nodes\.1\.candidate\.shash: /);
    expect(await refusal((j) => (j.search.tree.nodes[1].measured = { status: 'ok' }))).toMatch(/is damaged \(search\.tree\.nodes\.1\.measured\.latencySec: /);
    expect(await refusal((j) => (j.search.tree.nodes[1].parent = 5))).toMatch(/is damaged \(search\.tree\.nodes\.0: lists 1, which is not its child\)/);
    expect(await refusal((j) => j.search.tree.nodes[0].children.push(1e6))).toMatch(/is damaged \(search\.tree\.nodes\.0: lists 1000000, which is not its child\)/);
    expect(await refusal((j) => (j.search.tree.nodes = []))).toMatch(/is damaged \(search\.tree\.nodes: /);
    expect(await refusal((j) => (j.search.measurements[0].nodeId = 1e6))).toMatch(/is damaged \(search\.measurements\.0\.nodeId: no node 1000000\)/);
    expect(await refusal((j) => delete j.search.rng)).toMatch(/is damaged \(search\.rng: /);
    expect(await refusal((j) => (j.search.perModel.builtin = null))).toMatch(/is damaged \(search\.perModel\.builtin: /);
    expect(await refusal((j) => delete j.workloadKey)).toMatch(/is damaged \(workloadKey: /);
    expect(await refusal((j) => (j.target = 'llvm'))).toMatch(/is damaged \(target: /);
  });

  it('cut short anywhere is refused, never half read', async () => {
    const text = JSON.stringify(await checkpointOfARun());
    for (const cut of [1, 10, Math.floor(text.length / 3), Math.floor(text.length / 2), text.length - 1]) {
      fs.writeFileSync(path.join(dir, CHECKPOINT_FILE), text.slice(0, cut));
      expect(oneLineUsageError(() => readCheckpoint(dir))).toMatch(/is not a COLT checkpoint/);
    }
    fs.writeFileSync(path.join(dir, CHECKPOINT_FILE), '');
    expect(oneLineUsageError(() => readCheckpoint(dir))).toMatch(/is not a COLT checkpoint \(not valid JSON\)/);
    fs.writeFileSync(path.join(dir, CHECKPOINT_FILE), 'null');
    expect(oneLineUsageError(() => readCheckpoint(dir))).toMatch(/is not a COLT checkpoint this version can read/);
  });
});

/** The built-in proposer, booking an LLM call on the run's account at every proposal. */
class CountingProposer implements Proposer {
  readonly name = 'builtin';
  calls = 0;
  private readonly inner = new BuiltinProposer();
  private readonly listeners: SpendListener[] = [];
  readonly state: LlmRunState = {
    snapshot: () => ({ calls: this.calls }) as unknown as ReturnType<LlmRunState['snapshot']>,
    restore: () => undefined,
    onChange: (listener) => void this.listeners.push(listener),
    bookings: () => ({ calls: this.calls, perModel: { builtin: this.calls } }),
    carryBookings: () => undefined,
  };

  async propose(ctx: ProposalContext): Promise<Proposal> {
    this.calls += 1;
    // As the pool does: the call goes out once its booking is kept, and its answer is booked after.
    await Promise.all(this.listeners.map((listener) => listener('out')));
    const proposal = await this.inner.propose(ctx);
    for (const listener of this.listeners) void listener('in');
    return proposal;
  }
}

describe('checkpoint writes', () => {
  it('are coalesced: at most one per batch however many LLM calls, and the last state is on disk at the end', async () => {
    const parsed = parseTuneOptions({ workload: 'GMM:1', trials: '48', perIter: '8', workDir: dir, llm: false }, { cores: 2 });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const database: CommittedTrial[] = [];
    const host = new MemoryHost(new FakeSpace(), database);
    const proposer = new CountingProposer();
    // No time-driven write within this run: only batches and the end write.
    const checkpoints = new CheckpointWriter(dir, { intervalMs: 3_600_000 });
    let batches = 0;
    const session = new TuneSession({
      options: parsed.options,
      workload: 'GMM:1',
      workDir: dir,
      logger: silentLogger(),
      startHost: async () => host,
      checkpoints,
      onTask: () => undefined,
      onEvent: (event) => {
        if (event.type === 'measure' || (event.type === 'population' && !event.refill)) batches += 1;
      },
    });
    const tuned = await session.run({ options: { maxTrials: 48, trialsPerIter: 8, seed: 0 }, proposers: { builtin: proposer }, llm: proposer.state });

    expect(tuned?.result.trialsUsed).toBe(48);
    expect(database).toHaveLength(48);
    // Many LLM calls per batch, yet no more writes than batches (plus the end's).
    expect(proposer.calls).toBeGreaterThan(3 * (batches + 1));
    expect(checkpoints.written).toBeGreaterThanOrEqual(1);
    expect(checkpoints.written).toBeLessThanOrEqual(batches + 1);
    const saved = readCheckpoint(dir);
    expect(saved?.search.trialsUsed).toBe(48);
    expect(saved?.llm).toEqual({ calls: proposer.calls });
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    // Each call's booking went to the ledger, one line per call, before the call went out.
    const ledger = fs.readFileSync(path.join(dir, LLM_LEDGER_FILE), 'utf8').trim().split('\n');
    expect(ledger).toHaveLength(proposer.calls);
    expect(readLlmLedger(dir)).toEqual({ calls: proposer.calls, perModel: { builtin: proposer.calls } });
  });

  it('between batches wait for the interval or the flush, and write only the latest state', async () => {
    const checkpoint = await checkpointOfARun();
    // Left by a run killed mid-write: swept by the next writer.
    fs.writeFileSync(path.join(dir, `${CHECKPOINT_FILE}.99999.tmp`), '{"version":1,');
    const writer = new CheckpointWriter(dir, { intervalMs: 3_600_000 });
    for (let i = 0; i < 50; i++) writer.save({ ...checkpoint, savedAt: `call ${i}` }, false);
    expect(writer.written).toBe(0);
    expect(readCheckpoint(dir)).toBeUndefined();
    await writer.flush();
    expect(writer.written).toBe(1);
    expect(readCheckpoint(dir)?.savedAt).toBe('call 49');
    expect(fs.readdirSync(dir)).toEqual([CHECKPOINT_FILE]);

    // A write that fails is reported, and the next one still happens.
    const errors: string[] = [];
    const gone = path.join(dir, 'gone');
    const failing = new CheckpointWriter(gone, { onError: (err) => errors.push(err.message) });
    failing.save(checkpoint, true);
    await failing.flush();
    expect(errors).toEqual([expect.stringMatching(/ENOENT/)]);
    fs.mkdirSync(gone);
    failing.save(checkpoint, true);
    await failing.flush();
    expect(failing.written).toBe(1);
  });
});

describe('the LLM ledger', () => {
  it('keeps every booking synced, and its last whole line is what a resume reads; a torn one is skipped', async () => {
    expect(readLlmLedger(dir)).toBeUndefined();
    const ledger = new LlmLedger(dir);
    await Promise.all([1, 2, 3].map((calls) => ledger.append({ calls, perModel: { tiny: calls } })));
    await ledger.close();
    expect(readLlmLedger(dir)).toEqual({ calls: 3, perModel: { tiny: 3 } });
    expect((fs.statSync(path.join(dir, LLM_LEDGER_FILE)).mode & 0o777).toString(8)).toBe('600');
    // Killed mid-append: half a line at the end.
    fs.appendFileSync(path.join(dir, LLM_LEDGER_FILE), '{"calls":4,"perMo');
    expect(readLlmLedger(dir)).toEqual({ calls: 3, perModel: { tiny: 3 } });
    // A later run appends after it, on a line of its own.
    const next = new LlmLedger(dir);
    await next.append({ calls: 5, perModel: { tiny: 5 } });
    await next.close();
    expect(readLlmLedger(dir)).toEqual({ calls: 5, perModel: { tiny: 5 } });
    fs.writeFileSync(path.join(dir, LLM_LEDGER_FILE), 'garbage\n{"calls":-1,"perModel":{}}\n');
    expect(readLlmLedger(dir)).toBeUndefined();
  });

  it('a failed append rejects that call only; the next one is written', async () => {
    const gone = path.join(dir, 'gone');
    const ledger = new LlmLedger(gone);
    await expect(ledger.append({ calls: 1, perModel: {} })).rejects.toThrow(/ENOENT/);
    fs.mkdirSync(gone);
    await ledger.append({ calls: 2, perModel: {} });
    await ledger.close();
    expect(readLlmLedger(gone)).toEqual({ calls: 2, perModel: {} });
  });
});

describe('--tuning-records', () => {
  it('needs a directory holding a MetaSchedule database', () => {
    expect(oneLineUsageError(() => checkTuningRecords(dir))).toMatch(/^--tuning-records: .* holds no MetaSchedule database/);
    fs.writeFileSync(path.join(dir, 'database_workload.json'), '');
    fs.writeFileSync(path.join(dir, 'database_tuning_record.json'), '');
    expect(checkTuningRecords(dir)).toBe(dir);
  });
});
