// colt-checkpoint.json on disk: written atomically, read back whole, and refused for another run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code, ColtError } from '../../src/errors';
import { BuiltinProposer, Search } from '../../src/search';
import { CHECKPOINT_FILE, checkTuningRecords, loadResumePoint, readCheckpoint, sameTarget, writeCheckpoint, type Checkpoint } from '../../src/tuning/checkpoint';
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

describe('--tuning-records', () => {
  it('needs a directory holding a MetaSchedule database', () => {
    expect(oneLineUsageError(() => checkTuningRecords(dir))).toMatch(/^--tuning-records: .* holds no MetaSchedule database/);
    fs.writeFileSync(path.join(dir, 'database_workload.json'), '');
    fs.writeFileSync(path.join(dir, 'database_tuning_record.json'), '');
    expect(checkTuningRecords(dir)).toBe(dir);
  });
});
