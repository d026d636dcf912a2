// The job table's bounds: at most eight jobs run at once (the ninth is RESOURCE_EXHAUSTED, as the
// daemon answers it), a place frees when a job ends, and job ids are 128 random bits.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';

import { toStatus } from '../../src/daemon/status';
import { Code, ColtError } from '../../src/errors';
import { JobManager, MAX_RUNNING_JOBS } from '../../src/jobs/manager';
import { silentLogger } from '../../src/log';
import { parseTuneOptions, type TuneOptions } from '../../src/options/tune';
import { FakeSpace } from '../search/fake-space';
import { MemoryHost } from './memory-host';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-limits-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function options(workDir: string): TuneOptions {
  const parsed = parseTuneOptions({ workload: 'GMM:1', trials: '4', perIter: '4', workDir, llm: false }, { cores: 2 });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.options;
}

/** Waits for a condition the jobs reach on their own, a turn of the event loop at a time. */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('the job table', () => {
  it('runs eight jobs at once and refuses the ninth with RESOURCE_EXHAUSTED until one ends', async () => {
    const host = new MemoryHost(new FakeSpace(), []);
    // Each job waits for its bridge until its own gate opens: all eight stay running.
    const gates: Array<() => void> = [];
    const startHost = () => new Promise<MemoryHost>((resolve) => gates.push(() => resolve(host)));
    const jobs = new JobManager({ logger: silentLogger(), cwd: dir, startHost });
    expect(MAX_RUNNING_JOBS).toBe(8);

    const running = Array.from({ length: 8 }, (_, i) => jobs.startTune(options(`run${i}`)));
    let refused: unknown;
    try {
      jobs.startTune(options('run8'));
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(ColtError);
    expect((refused as ColtError).code).toBe(Code.ResourceExhausted);
    expect((refused as ColtError).message).toMatch(/8 jobs are running, the most this daemon runs at once \(8\)/);
    expect(toStatus(refused).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // Nothing of the refused job was kept.
    expect(jobs.list()).toHaveLength(8);
    expect(fs.existsSync(path.join(dir, 'run8'))).toBe(false);

    // One ends: its place is free again.
    await waitFor(() => gates.length === 8);
    gates[0]();
    expect((await running[0].ended).state).toBe('SUCCEEDED');
    const ninth = jobs.startTune(options('run8'));
    await waitFor(() => gates.length === 9);
    for (const release of gates.slice(1)) release();
    const views = await Promise.all([...running.slice(1), ninth].map((j) => j.ended));
    expect(views.map((v) => v.state)).toEqual(Array(8).fill('SUCCEEDED'));
  });

  it('takes its cap from its limits', async () => {
    const host = new MemoryHost(new FakeSpace(), []);
    const jobs = new JobManager({ logger: silentLogger(), cwd: dir, startHost: async () => host }, { maxRunning: 1 });
    const first = jobs.startTune(options('a'));
    expect(() => jobs.startTune(options('b'))).toThrow(expect.objectContaining({ code: Code.ResourceExhausted }));
    expect((await first.ended).state).toBe('SUCCEEDED');
    expect((await jobs.startTune(options('b')).ended).state).toBe('SUCCEEDED');
  });

  it('names jobs with 128 random bits', () => {
    const host = new MemoryHost(new FakeSpace(), []);
    const jobs = new JobManager({ logger: silentLogger(), cwd: dir, startHost: async () => host }, { maxRunning: 100 });
    const ids = Array.from({ length: 8 }, (_, i) => jobs.startTune(options(`id${i}`)).id);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    return Promise.all(jobs.list().map((j) => j.ended));
  });
});
