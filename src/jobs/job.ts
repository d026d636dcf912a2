// One job of the job machinery: a tuning run (`colt tune`, the daemon's Tune) or a drop-in search
// (the daemon's StartSearch for colt_tvm). A job is a reporter sink: the runner reports the task,
// the search's and the LLMs' events and the summary to it, and it keeps a view of where the job
// stands and passes every report on to whoever watches (the CLI's table, a gRPC stream).
import { randomBytes } from 'node:crypto';

import { describeError, EXIT_CODES, type ColtError } from '../errors';
import type { LlmEvent, LlmSummary } from '../llm';
import type { Reporter, TaskInfo } from '../reporters';
import type { SearchEvent } from '../search';
import type { TuneSummary } from '../tuning/summary';

export type JobKind = 'TUNE' | 'SEARCH';
export type JobState = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface ModelUsage {
  name: string;
  calls: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** Where a job stands: what ListJobs and GetJob show. */
export interface JobView {
  jobId: string;
  kind: JobKind;
  state: JobState;
  name: string;
  workload: string;
  taskName: string;
  workDir: string;
  trials: number;
  maxTrials: number;
  bestLatencyUs: number | null;
  untunedLatencyUs: number | null;
  flop: number;
  models: ModelUsage[];
  /** FAILED: one line saying why. */
  error: string | null;
  /** What `colt tune` exits with for this outcome. */
  exitCode: number;
  summary: TuneSummary | null;
  createdAt: string;
  endedAt: string | null;
}

/** A watcher: a reporter, plus a hook for every change of the job's view (reports and state). */
export interface JobWatcher extends Reporter {
  onUpdate?(view: JobView): void;
  /** Once, when the job has ended; nothing follows. */
  onEnd?(view: JobView): void;
}

export interface JobInit {
  kind: JobKind;
  name: string;
  workload: string;
  workDir?: string;
  maxTrials: number;
}

export class Job implements Required<Reporter> {
  /** 128 random bits: an id is not something another caller can guess. */
  readonly id = randomBytes(16).toString('hex');
  readonly kind: JobKind;
  /** Resolves when the job has ended, whatever the outcome. */
  readonly ended: Promise<JobView>;
  /** The error a failed job ended with (the CLI exits with its code's exit code). */
  failure: ColtError | undefined;
  private state: JobState = 'RUNNING';
  private readonly info: { name: string; workload: string; workDir: string; taskName: string; flop: number };
  private trials = 0;
  private maxTrials: number;
  private bestLatencySec: number | undefined;
  private untunedLatencyUs: number | null = null;
  private summary: TuneSummary | null = null;
  private error: string | null = null;
  private exitCode = 0;
  private readonly createdAt = new Date().toISOString();
  private endedAt: string | null = null;
  private usage: () => LlmSummary | null = () => null;
  private readonly watchers = new Set<JobWatcher>();
  private readonly cancellers: Array<() => void> = [];
  private cancelRequested = false;
  private resolveEnded!: (view: JobView) => void;

  constructor(init: JobInit) {
    this.kind = init.kind;
    this.maxTrials = init.maxTrials;
    this.info = { name: init.name, workload: init.workload, workDir: init.workDir ?? '', taskName: '', flop: 0 };
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  get isRunning(): boolean {
    return this.state === 'RUNNING';
  }

  view(): JobView {
    const llm = this.usage();
    const models: ModelUsage[] = llm
      ? Object.entries(llm.perModel).map(([name, s]) => ({
          name,
          calls: s.calls,
          errors: s.errors,
          promptTokens: s.promptTokens,
          completionTokens: s.completionTokens,
          costUsd: s.costUsd,
        }))
      : [];
    return {
      jobId: this.id,
      kind: this.kind,
      state: this.state,
      name: this.info.name,
      workload: this.info.workload,
      taskName: this.info.taskName,
      workDir: this.info.workDir,
      trials: this.trials,
      maxTrials: this.maxTrials,
      bestLatencyUs: this.bestLatencySec !== undefined ? this.bestLatencySec * 1e6 : null,
      untunedLatencyUs: this.untunedLatencyUs,
      flop: this.info.flop,
      models,
      error: this.error,
      exitCode: this.exitCode,
      summary: this.summary,
      createdAt: this.createdAt,
      endedAt: this.endedAt,
    };
  }

  /** Where per-model LLM usage comes from once the job has a model pool. */
  setUsageSource(source: () => LlmSummary | null): void {
    this.usage = source;
  }

  /** What the task turned out to be once open (drop-in jobs have no TaskInfo of their own). */
  setTask(task: { taskName: string; flop: number; maxTrials?: number }): void {
    this.info.taskName = task.taskName;
    this.info.flop = task.flop;
    if (task.maxTrials !== undefined) this.maxTrials = task.maxTrials;
    this.update();
  }

  /** Watches from now on; returns the way to stop watching. A watcher that throws is dropped. */
  watch(watcher: JobWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** Asks the job to stop at its next step boundary (the batch in flight finishes). */
  cancel(): void {
    if (!this.isRunning) return;
    const first = !this.cancelRequested;
    this.cancelRequested = true;
    if (first) for (const cb of this.cancellers) cb();
  }

  /** What cancel() must do for this job's runner; called at once if already cancelled. */
  onCancel(cb: () => void): void {
    this.cancellers.push(cb);
    if (this.cancelRequested) cb();
  }

  // --- reporter hooks ---------------------------------------------------------------------------

  onTask(task: TaskInfo): void {
    this.info.taskName = task.taskName;
    this.info.flop = task.flop;
    this.info.workDir = task.workDir;
    this.maxTrials = task.maxTrials;
    this.untunedLatencyUs = task.untunedLatencyUs;
    this.fanOut((w) => w.onTask?.(task));
    this.update();
  }

  onEvent(event: SearchEvent | LlmEvent): void {
    if (event.type === 'measure') {
      this.trials = event.trialsUsed;
      this.maxTrials = event.maxTrials;
      if (event.bestLatencySec !== undefined) this.bestLatencySec = event.bestLatencySec;
    } else if (event.type === 'start' && event.resumed) {
      this.trials = event.resumed.trialsUsed;
    }
    this.fanOut((w) => w.onEvent?.(event));
    this.update();
  }

  onSummary(summary: TuneSummary, summaryPath: string): void {
    this.summary = summary;
    this.trials = summary.trials;
    if (summary.bestLatencyUs !== null) this.bestLatencySec = summary.bestLatencyUs / 1e6;
    this.fanOut((w) => w.onSummary?.(summary, summaryPath));
    this.update();
  }

  // --- the end ----------------------------------------------------------------------------------

  /** Ends the job: SUCCEEDED, or CANCELLED when a cancel came first. */
  finish(): void {
    this.end(this.cancelRequested ? 'CANCELLED' : 'SUCCEEDED', 0);
  }

  /** Ends the job FAILED, its error's message the one line saying why. */
  fail(err: ColtError): void {
    this.failure = err;
    this.error = describeError(err);
    this.end('FAILED', EXIT_CODES[err.code]);
  }

  private end(state: JobState, exitCode: number): void {
    if (!this.isRunning) return;
    this.state = state;
    this.exitCode = exitCode;
    this.endedAt = new Date().toISOString();
    const view = this.view();
    this.fanOut((w) => w.onUpdate?.(view));
    this.fanOut((w) => w.onEnd?.(view));
    this.watchers.clear();
    this.resolveEnded(view);
  }

  private update(): void {
    if (this.watchers.size === 0) return;
    const view = this.view();
    this.fanOut((w) => w.onUpdate?.(view));
  }

  private fanOut(fn: (w: JobWatcher) => void): void {
    for (const w of [...this.watchers]) {
      try {
        fn(w);
      } catch {
        // A watcher that cannot take reports (a closed stream) does not stop the job.
        this.watchers.delete(w);
      }
    }
  }
}
