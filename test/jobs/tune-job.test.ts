// A TUNE job end to end through the job machinery, without TVM: the task host is served in
// memory by the search core's FakeSpace, with a database that remembers every trial. The job
// runs, checkpoints, summarises, is cancelled and resumed, and outlives a bridge that dies.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

import winston from 'winston';

import { Code, ColtError } from '../../src/errors';
import { JobManager, type JobWatcher } from '../../src/jobs';
import { silentLogger } from '../../src/log';
import { parseTuneOptions, type TuneOptions } from '../../src/options/tune';
import type { CommittedTrial } from '../../src/search';
import { CHECKPOINT_FILE, readCheckpoint } from '../../src/tuning/checkpoint';
import { LOCK_FILE } from '../../src/tuning/lock';
import { SUMMARY_FILE, type TuneSummary } from '../../src/tuning/summary';
import { FakeSpace } from '../search/fake-space';
import { MemoryHost } from './memory-host';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-job-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function options(extra: Record<string, unknown> = {}): TuneOptions {
  const parsed = parseTuneOptions({ workload: 'GMM:1', trials: '16', perIter: '4', workDir: 'run', llm: false, ...extra }, { cores: 2 });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.options;
}

/** Records what a watcher sees: event types in order, and the summary. */
function recorder(): JobWatcher & { types: string[]; summary?: TuneSummary; tasks: number } {
  const seen = {
    types: [] as string[],
    tasks: 0,
    summary: undefined as TuneSummary | undefined,
    onTask: () => void (seen.tasks += 1),
    onEvent: (e: { type: string }) => void seen.types.push(e.type),
    onSummary: (s: TuneSummary) => void (seen.summary = s),
  };
  return seen;
}

describe('a TUNE job without TVM', () => {
  it('runs to its budget, checkpoints after each batch and writes the summary', async () => {
    const database: CommittedTrial[] = [];
    const host = new MemoryHost(new FakeSpace(), database);
    const jobs = new JobManager({ logger: silentLogger(), cwd: dir, startHost: async () => host });
    const watcher = recorder();
    const job = jobs.startTune(options(), { watchers: [watcher] });
    const view = await job.ended;

    expect(view).toMatchObject({ state: 'SUCCEEDED', exitCode: 0, trials: 16, maxTrials: 16, taskName: 'fake', error: null });
    expect(view.bestLatencyUs).toBeGreaterThan(0);
    expect(database).toHaveLength(16);
    expect(watcher.tasks).toBe(1);
    expect(watcher.types.filter((t) => t === 'measure').length).toBeGreaterThanOrEqual(4);
    // The request names the work dir, resolved, and the measurement settings.
    expect(host.requests[0]).toMatchObject({
      workload: 'GMM:1',
      workDir: path.join(dir, 'run'),
      hostCpu: true,
      measure: { number: 3, timeoutSec: 30 },
    });

    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'run', SUMMARY_FILE), 'utf8')) as TuneSummary;
    expect(summary).toMatchObject({ trials: 16, maxTrials: 16, taskName: 'fake', untunedLatencyUs: 50_000, stopReason: 'trials', llm: null });
    expect(summary.target).toMatchObject({ kind: 'llvm', keys: ['cpu'] });
    expect(watcher.summary).toEqual(summary);
    const checkpoint = readCheckpoint(path.join(dir, 'run'));
    expect(checkpoint).toMatchObject({ workload: 'GMM:1', workloadKey: 'fake-key' });
    expect(fs.existsSync(path.join(dir, 'run', CHECKPOINT_FILE))).toBe(true);
    expect(host.stopped).toBe(1);
  });

  it('stops at a cancel with the batch in flight measured, and resumes to the budget', async () => {
    const database: CommittedTrial[] = [];
    const jobs = new JobManager({ logger: silentLogger(), cwd: dir, startHost: async () => host });
    let cancel = () => undefined as void;
    const host = new MemoryHost(new FakeSpace({ onMeasure: (_, call) => call === 2 && cancel() }), database);
    const first = jobs.startTune(options({ trials: '40' }));
    cancel = () => first.cancel();
    const cancelled = await first.ended;

    expect(cancelled.state).toBe('CANCELLED');
    expect(cancelled.trials).toBe(database.length);
    expect(database.length).toBeGreaterThan(0);
    expect(database.length).toBeLessThan(40);
    const stopped = JSON.parse(fs.readFileSync(path.join(dir, 'run', SUMMARY_FILE), 'utf8')) as TuneSummary;
    expect(stopped.stopReason).toBe('cancelled');

    const resumed = await jobs.startTune(options({ trials: '40', resume: true })).ended;
    expect(resumed).toMatchObject({ state: 'SUCCEEDED', trials: 40 });
    expect(database).toHaveLength(40);
    // Nothing measured twice: the resumed search knew what the first one had measured.
    expect(new Set(database.map((t) => t.candidate?.shash)).size).toBe(40);
  });

  it('starts a new bridge when one dies mid-run and carries on from the checkpoint', async () => {
    const database: CommittedTrial[] = [];
    const hosts: MemoryHost[] = [];
    const space = new FakeSpace({ onMeasure: (_, call) => call === 2 && hosts[0].kill() });
    const jobs = new JobManager({
      logger: silentLogger(),
      cwd: dir,
      startHost: async () => {
        hosts.push(new MemoryHost(space, database));
        return hosts[hosts.length - 1];
      },
    });
    const view = await jobs.startTune(options()).ended;
    expect(view).toMatchObject({ state: 'SUCCEEDED', trials: 16 });
    expect(hosts).toHaveLength(2);
    expect(view.summary?.bridgeRestarts).toBe(1);
  });

  it('starts another bridge when one never became ready, and only then', async () => {
    let starts = 0;
    const notReady = () => new ColtError(Code.Unavailable, 'the TVM bridge was not ready after 120 s', { details: { notReady: true } });
    const jobs = new JobManager({
      logger: silentLogger(),
      cwd: dir,
      startHost: async () => {
        starts += 1;
        if (starts === 1) throw notReady();
        return new MemoryHost(new FakeSpace(), []);
      },
    });
    const view = await jobs.startTune(options()).ended;
    expect(view).toMatchObject({ state: 'SUCCEEDED', trials: 16 });
    expect(view.summary?.bridgeRestarts).toBe(1);
    expect(starts).toBe(2);

    // A bridge that cannot start at all (no Python, say) is not tried again; nor is one that
    // is never ready, past --max-bridge-restarts.
    let failing = 0;
    const broken = new JobManager({
      logger: silentLogger(),
      cwd: dir,
      startHost: async () => {
        failing += 1;
        throw new ColtError(Code.Unavailable, 'cannot start the TVM bridge: spawn python ENOENT');
      },
    });
    expect(await broken.startTune(options({ workDir: 'broken' })).ended).toMatchObject({ state: 'FAILED', error: 'cannot start the TVM bridge: spawn python ENOENT' });
    expect(failing).toBe(1);
    let stuck = 0;
    const never = new JobManager({
      logger: silentLogger(),
      cwd: dir,
      startHost: async () => {
        stuck += 1;
        throw notReady();
      },
    });
    expect(await never.startTune(options({ workDir: 'never', maxBridgeRestarts: '2' })).ended).toMatchObject({ state: 'FAILED' });
    expect(stuck).toBe(3);
  });

  it('warns once, naming this CPU, when an llvm target is given without mcpu', async () => {
    const warnings: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        warnings.push((JSON.parse(chunk.toString()) as { message: string }).message);
        done();
      },
    });
    const logger = winston.createLogger({ level: 'warn', transports: [new winston.transports.Stream({ stream: sink })] });
    let runs = 0;
    const run = async (target: string) => {
      runs += 1;
      warnings.length = 0;
      const host = new MemoryHost(new FakeSpace(), []);
      const jobs = new JobManager({ logger, cwd: dir, startHost: async () => host });
      await jobs.startTune(options({ target, workDir: `run-${runs}` })).ended;
      return { warnings: [...warnings], request: host.requests[0] };
    };
    const full = await run('{"kind":"llvm","num-cores":2}');
    expect(full.request.hostCpu).toBe(false);
    expect(full.warnings).toEqual([expect.stringMatching(/^--target has no "mcpu": .*this CPU is "testcpu": add "mcpu":"testcpu"/)]);
    expect((await run('llvm')).warnings).toEqual([]);
    expect((await run('{"kind":"llvm","mcpu":"testcpu"}')).warnings).toEqual([]);
  });

  it('gives a work dir to one run at a time, and never writes over a finished run', async () => {
    let open = (): void => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const jobs = new JobManager({
      logger: silentLogger(),
      cwd: dir,
      startHost: async () => {
        await opened;
        return new MemoryHost(new FakeSpace(), []);
      },
    });
    const first = jobs.startTune(options());
    // The first holds the work dir once its lock file is there.
    while (!fs.existsSync(path.join(dir, 'run', LOCK_FILE))) await new Promise((resolve) => setImmediate(resolve));
    const second = await jobs.startTune(options()).ended;
    expect(second).toMatchObject({ state: 'FAILED', exitCode: 2 });
    expect(second.error).toMatch(/^work dir .*run is in use by a run of another job of this process/);
    open();
    expect(await first.ended).toMatchObject({ state: 'SUCCEEDED', trials: 16 });

    // Finished: a fresh run is refused; --force moves the finished one aside and starts afresh.
    const fresh = await jobs.startTune(options()).ended;
    expect(fresh).toMatchObject({ state: 'FAILED', exitCode: 2 });
    expect(fresh.error).toMatch(/holds a run already \(colt-checkpoint\.json, colt-summary\.json\): --resume carries it on, --force moves it aside$/);
    const forced = await jobs.startTune(options({ force: true })).ended;
    expect(forced).toMatchObject({ state: 'SUCCEEDED', trials: 16 });
    const aside = fs.readdirSync(path.join(dir, 'run')).filter((f) => f.startsWith('previous-run-'));
    expect(aside).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'run', aside[0], SUMMARY_FILE), 'utf8'))).toMatchObject({ trials: 16 });
  });

  it('fails with BRIDGE_STOPPED (exit 3) when the bridge keeps dying', async () => {
    const hosts: MemoryHost[] = [];
    const space = new FakeSpace({ onMeasure: () => hosts[hosts.length - 1].kill() });
    const jobs = new JobManager({
      logger: silentLogger(),
      cwd: dir,
      startHost: async () => {
        hosts.push(new MemoryHost(space, []));
        return hosts[hosts.length - 1];
      },
    });
    const job = jobs.startTune(options({ maxBridgeRestarts: '1' }));
    const view = await job.ended;
    expect(view).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(view.error).toMatch(/^the TVM bridge stopped during tuning \(killed by SIGKILL\); records already measured are in .*run \(--resume carries on\)$/);
    expect(job.failure?.code).toBe('BRIDGE_STOPPED');
    expect(hosts).toHaveLength(2);
  });
});
