// A bridge in memory for whole TUNE jobs and sessions without TVM: one task over the search
// core's FakeSpace, with a database that remembers every trial.
import { bridgeStopped, type HostedTask, type TaskHost, type TaskRequest } from '../../src/bridge';
import type { CommittedTrial, MeasureOutcome } from '../../src/search';
import type { FakeSpace } from '../search/fake-space';

/** A bridge in memory: one task over a FakeSpace, its trials kept as a database would keep them. */
export class MemoryHost implements TaskHost {
  readonly requests: TaskRequest[] = [];
  stopped = 0;
  private killed: ((err: unknown) => void) | undefined;
  private readonly death: Promise<never>;

  constructor(
    readonly space: FakeSpace,
    private readonly database: CommittedTrial[],
  ) {
    this.death = new Promise<never>((_, reject) => (this.killed = reject));
    this.death.catch(() => undefined);
  }

  /** The bridge dies: every call in flight fails as a dead bridge's would. */
  kill(): void {
    this.killed?.(bridgeStopped({ code: null, signal: 'SIGKILL' }));
  }

  async openTask(request: TaskRequest): Promise<HostedTask> {
    this.requests.push(request);
    const space = this.space;
    const database = this.database;
    // Measured trials go to the database as the bridge commits them.
    const recording = Object.create(space) as FakeSpace;
    recording.measure = async (traces: string[]): Promise<MeasureOutcome[]> => {
      const outcomes = await space.measure(traces);
      outcomes.forEach((o, i) => {
        if (!o.ok && o.code === 'DEVICE_LOST') return;
        const candidate = space.candidate(JSON.parse(traces[i]) as number[]);
        database.push(o.ok ? { candidate, latencySec: o.runSecs[1] } : { candidate });
      });
      return outcomes;
    };
    return {
      taskId: 'task-1',
      taskName: 'fake',
      flop: 2e6,
      targetJson: JSON.stringify({ ...request.target, keys: ['cpu'] }),
      workloadKey: 'fake-key',
      designSpaces: 1,
      mutators: space.mutators,
      devices: 0,
      hostCpu: 'testcpu',
      warnings: [],
      costModelFile: null,
      space: recording,
    };
  }

  async measureUntuned(): Promise<MeasureOutcome> {
    return { ok: true, runSecs: [0.05] };
  }

  async listRecords(request: { workDir?: string }): Promise<{ total: number; trials: CommittedTrial[] }> {
    const trials = request.workDir === undefined ? [...this.database] : [];
    return { total: trials.length, trials };
  }

  async closeTask(): Promise<void> {}

  guard<T>(work: Promise<T>): Promise<T> {
    work.catch(() => undefined);
    return Promise.race([work, this.death]);
  }

  async stop(): Promise<void> {
    this.stopped += 1;
  }
}
