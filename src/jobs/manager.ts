// The job table: starts TUNE and SEARCH jobs, finds, lists and cancels them, and ends them all
// when its owner goes. `colt tune` runs its one job through a manager of its own; `colt daemon`
// serves one manager's jobs over gRPC. Jobs share nothing but the process.
import { Code, ColtError } from '../errors';
import type { TuneOptions } from '../options/tune';
import { Job, type JobView, type JobWatcher } from './job';
import { startSearchJob, type ClientResult, type NextBatch, type SearchHandle, type SearchJobSpec } from './search-job';
import { runTuneJob, type JobEnv } from './tune-job';

/** How many ended jobs the table remembers (running ones are always kept). */
const ENDED_KEPT = 200;
/** Jobs running at once: each holds a TVM bridge and a build pool. */
export const MAX_RUNNING_JOBS = 8;

export interface JobLimits {
  /** Jobs running at once (default MAX_RUNNING_JOBS); one more is RESOURCE_EXHAUSTED. */
  maxRunning?: number;
}

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly searches = new Map<string, SearchHandle>();
  private readonly maxRunning: number;
  /** Searches whose bridge is starting: they hold a place before they are in the table. */
  private starting = 0;

  constructor(
    private readonly env: JobEnv,
    limits: JobLimits = {},
  ) {
    this.maxRunning = limits.maxRunning ?? MAX_RUNNING_JOBS;
  }

  /** Starts a tuning job; `watchers` see it from its first report. */
  startTune(options: TuneOptions, extra: { name?: string; watchers?: JobWatcher[] } = {}): Job {
    this.checkCapacity();
    const job = new Job({
      kind: 'TUNE',
      name: extra.name || options.workload,
      workload: options.workload,
      workDir: options.workDir,
      maxTrials: options.trials,
    });
    for (const w of extra.watchers ?? []) job.watch(w);
    this.add(job);
    // Started on the next turn: the caller has the job (and may watch or cancel it) first.
    setImmediate(() => {
      runTuneJob(options, this.env, job).then(
        () => job.finish(),
        (err: unknown) => job.fail(ColtError.from(err)),
      );
    });
    return job;
  }

  /** Starts a drop-in search; throws (and keeps no job) when its bridge, task or models cannot be had. */
  async startSearch(spec: SearchJobSpec): Promise<Job> {
    this.checkCapacity();
    const job = new Job({ kind: 'SEARCH', name: spec.name, workload: spec.name, maxTrials: spec.maxTrials });
    this.starting += 1;
    let handle: SearchHandle;
    try {
      handle = await startSearchJob(spec, this.env, job, this.env.logger);
    } finally {
      this.starting -= 1;
    }
    this.add(job);
    this.searches.set(job.id, handle);
    void job.ended.then(() => this.searches.delete(job.id));
    return job;
  }

  /** The next batch of a SEARCH job, after handing over the last one's results. */
  next(jobId: string, results: ClientResult[], signal?: AbortSignal): Promise<NextBatch> {
    const job = this.get(jobId);
    const handle = this.searches.get(jobId);
    if (job.kind !== 'SEARCH') throw new ColtError(Code.FailedPrecondition, `job ${jobId} is a TUNE job: it measures on its own`);
    if (!handle) return Promise.resolve({ done: true });
    return handle.next(results, signal);
  }

  /** Ends a SEARCH job, with the results of a batch still out; resolves to its final view. */
  async endSearch(jobId: string, results: ClientResult[]): Promise<JobView> {
    const job = this.get(jobId);
    if (job.kind !== 'SEARCH') throw new ColtError(Code.FailedPrecondition, `job ${jobId} is a TUNE job: CancelJob stops it`);
    await this.searches.get(jobId)?.end(results);
    return job.ended;
  }

  get(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (!job) throw new ColtError(Code.NotFound, `no job ${JSON.stringify(jobId)}`);
    return job;
  }

  list(): Job[] {
    return [...this.jobs.values()];
  }

  cancel(jobId: string): Job {
    const job = this.get(jobId);
    job.cancel();
    return job;
  }

  /** Cancels every running job and waits up to graceMs for them to end. */
  async shutdown(graceMs: number): Promise<void> {
    const running = this.list().filter((j) => j.isRunning);
    for (const job of running) job.cancel();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(running.map((j) => j.ended)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
  }

  /** Throws RESOURCE_EXHAUSTED when the running jobs fill every place. */
  private checkCapacity(): void {
    const running = this.list().filter((j) => j.isRunning).length + this.starting;
    if (running >= this.maxRunning) {
      throw new ColtError(
        Code.ResourceExhausted,
        `${running} jobs are running, the most this daemon runs at once (${this.maxRunning}): wait for one to end or cancel one`,
      );
    }
  }

  private add(job: Job): void {
    this.jobs.set(job.id, job);
    const ended = this.list().filter((j) => !j.isRunning);
    for (const old of ended.slice(0, Math.max(0, ended.length - ENDED_KEPT))) this.jobs.delete(old.id);
  }
}
