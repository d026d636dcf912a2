// A SEARCH job: the drop-in for MetaSchedule (colt_tvm.ColtSearch). The COLT search runs here;
// schedules are applied, checked and scored by the Bridge service the client hosts around its
// own TuneContext (the same bridge code as `colt tune`'s), and the client's MetaSchedule builds
// and measures them. Measurement is therefore a hand-over: the search's measure() parks its batch
// until the client takes it with NextBatch, and resolves when the client brings the results back.
import { performance } from 'node:perf_hooks';

import { BridgeClient, BridgeScheduleSpace, type BridgeScheduleSpaceOptions } from '../bridge';
import { Code, ColtError, hasCode } from '../errors';
import { llmSearchWiring, type BucketName, type ModelPool } from '../llm';
import type { Logger } from '../log';
import { BuiltinProposer, Search, type MeasureOutcome, type MutatorInfo } from '../search';
import type { Job } from './job';
import { openPoolFor, type JobEnv } from './tune-job';

export interface SearchJobSpec {
  bridgeAddress: string;
  /** What the client's bridge requires of its callers. */
  bridgeToken?: string;
  taskId: string;
  maxTrials: number;
  trialsPerIter: number;
  seed: number;
  /** models.json; undefined: the default bucket (or none with llm false). */
  models?: string;
  /** A bucket by name instead of a models file; undefined: the default bucket. */
  bucket?: BucketName;
  llm: boolean;
  llmBudget?: number;
  name: string;
}

/** One trial's result as the client's runner gave it. */
export interface ClientResult {
  traceJson: string;
  runSecs: number[];
  error: string;
}

export type NextBatch = { done: false; traces: string[] } | { done: true };

/** How often a batch out with the client checks that the client's bridge is still there. */
const CLIENT_PROBE_MS = 15_000;

interface Batch {
  traces: string[];
  resolve: (outcomes: MeasureOutcome[]) => void;
  reject: (err: Error) => void;
}

class Handover {
  /** A batch the search asked to measure that the client has not taken yet. */
  private parked: Batch | undefined;
  /** The batch the client took: its results come with the next NextBatch or with EndSearch. */
  private out: Batch | undefined;
  /** The NextBatch call waiting for a batch: woken by a batch or the end, refused when superseded. */
  private waiter: { wake: () => void; refuse: (err: Error) => void } | undefined;
  private ended: { error?: Error } | undefined;
  private probe: NodeJS.Timeout | undefined;

  constructor(private readonly clientAlive: () => Promise<boolean>) {}

  /** The search's side: park the batch, resolve when the client reports back. */
  measure(traces: string[]): Promise<MeasureOutcome[]> {
    if (this.ended) return Promise.resolve(traces.map(() => notMeasured()));
    return new Promise((resolve, reject) => {
      this.parked = {
        traces,
        resolve: (outcomes) => {
          this.stopProbe();
          resolve(outcomes);
        },
        reject: (err) => {
          this.stopProbe();
          reject(err);
        },
      };
      this.startProbe();
      this.wake();
    });
  }

  /**
   * The client's side: results of the batch it had (if any), then the next batch or the end.
   * `signal` aborts when the call's deadline passes or its client goes away: the call stops
   * waiting, and a batch it took but could not deliver goes back to be handed out again. A
   * newer call supersedes a waiting one (a client retrying after its deadline), never refused.
   */
  async next(results: ClientResult[], signal?: AbortSignal): Promise<NextBatch> {
    if (signal?.aborted) throw callCancelled();
    this.waiter?.refuse(new ColtError(Code.Interrupted, 'superseded by a newer NextBatch call of this job'));
    this.waiter = undefined;
    this.deliver(results);
    for (;;) {
      if (this.parked) {
        const batch = (this.out = this.parked);
        this.parked = undefined;
        // The answer may never reach the client: then the batch is handed out again.
        signal?.addEventListener('abort', () => this.giveBack(batch), { once: true });
        return { done: false, traces: batch.traces };
      }
      if (this.ended) {
        if (this.ended.error) throw this.ended.error;
        return { done: true };
      }
      await new Promise<void>((resolve, reject) => {
        const waiter = { wake: resolve, refuse: reject };
        this.waiter = waiter;
        signal?.addEventListener(
          'abort',
          () => {
            if (this.waiter !== waiter) return;
            this.waiter = undefined;
            reject(callCancelled());
          },
          { once: true },
        );
      });
    }
  }

  /** A batch taken by a call whose answer was lost goes back to the front of the queue. */
  private giveBack(batch: Batch): void {
    if (this.out !== batch) return;
    this.out = undefined;
    this.parked = batch;
    this.wake();
  }

  /** The client is done (or the search is): a batch it never measured is not a trial. */
  abandon(results: ClientResult[]): void {
    this.deliver(results);
    for (const batch of [this.parked, this.out]) batch?.resolve(batch.traces.map(() => notMeasured()));
    this.parked = undefined;
    this.out = undefined;
  }

  /** The search has ended: waiting clients learn it. */
  finish(error?: Error): void {
    this.ended = error ? { error } : {};
    this.stopProbe();
    this.wake();
  }

  private deliver(results: ClientResult[]): void {
    const out = this.out;
    if (!out) return;
    // No result at all: the client never got the batch (its answer was lost on the way).
    if (results.length === 0) return this.giveBack(out);
    this.out = undefined;
    const byTrace = new Map(results.map((r) => [r.traceJson, r]));
    out.resolve(out.traces.map((t) => outcomeOf(byTrace.get(t))));
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.wake();
  }

  /** A client that died with a batch out would leave the search waiting for ever: look. */
  private startProbe(): void {
    this.stopProbe();
    this.probe = setInterval(() => {
      void this.clientAlive().then((alive) => {
        const batch = this.parked ?? this.out;
        if (alive || !batch) return;
        this.parked = undefined;
        this.out = undefined;
        batch.reject(new Error('the client running this search is gone (its bridge does not answer)'));
      });
    }, CLIENT_PROBE_MS);
    this.probe.unref();
  }

  private stopProbe(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }
}

function callCancelled(): ColtError {
  return new ColtError(Code.Interrupted, 'the NextBatch call was cancelled or passed its deadline');
}

/** A trial the client never measured: the search does not count it. */
function notMeasured(): MeasureOutcome {
  return { ok: false, code: 'DEVICE_LOST', message: 'not measured: the tuning run ended first' };
}

function outcomeOf(r: ClientResult | undefined): MeasureOutcome {
  if (!r) return { ok: false, code: 'RUN_FAILED', message: 'the client reported no result for this trace' };
  const ok = r.error === '' && r.runSecs.length > 0 && r.runSecs.every((s) => Number.isFinite(s) && s > 0 && s < 1e9);
  if (ok) return { ok: true, runSecs: r.runSecs };
  return { ok: false, code: /build/i.test(r.error) ? 'BUILD_FAILED' : 'RUN_FAILED', message: r.error || 'failed' };
}

/** The bridge's space, with measurement handed to the client. */
class ClientMeasuredSpace extends BridgeScheduleSpace {
  constructor(
    client: BridgeClient,
    taskId: string,
    mutators: MutatorInfo[],
    private readonly handover: Handover,
    options?: BridgeScheduleSpaceOptions,
  ) {
    super(client, taskId, mutators, options);
  }

  override measure(traceJsons: string[]): Promise<MeasureOutcome[]> {
    if (traceJsons.length === 0) return Promise.resolve([]);
    return this.handover.measure(traceJsons);
  }
}

/** What the daemon's NextBatch and EndSearch drive. */
export interface SearchHandle {
  /** `signal`: the call's cancellation (deadline or client gone); see Handover.next. */
  next(results: ClientResult[], signal?: AbortSignal): Promise<NextBatch>;
  /** Ends the search (a batch still out is not measured) and waits for the job's end. */
  end(results: ClientResult[]): Promise<void>;
}

/**
 * Connects to the client's bridge, opens the models and starts the search in the background.
 * Throws (before the job runs) when the bridge, its task or the models cannot be had.
 */
export async function startSearchJob(spec: SearchJobSpec, env: JobEnv, job: Job, logger: Logger): Promise<SearchHandle> {
  const client = new BridgeClient(spec.bridgeAddress, { token: spec.bridgeToken });
  let pool: ModelPool | undefined;
  try {
    const task = await client.getTask({ task_id: spec.taskId }).catch((err: unknown) => {
      if (hasCode(err, Code.NotFound)) {
        throw new ColtError(Code.InvalidArgument, `the bridge at ${spec.bridgeAddress} has no task ${spec.taskId}`);
      }
      if (hasCode(err, Code.Unavailable)) {
        throw new ColtError(Code.InvalidArgument, `cannot reach the bridge at ${spec.bridgeAddress}: ${err.message}`);
      }
      throw err;
    });
    pool = await openPoolFor({ models: spec.models, bucket: spec.bucket, llm: spec.llm, llmBudget: spec.llmBudget }, env, {
      onEvent: (e) => job.onEvent(e),
      local: { onLog: (line) => logger.debug(line) },
    });
    const opened = pool;
    if (opened) job.setUsageSource(() => opened.summary());
    job.setTask({ taskName: task.task_name, flop: task.flop, maxTrials: spec.maxTrials });
    logger.info(
      `job ${job.id}: searching ${task.task_name} for a client at ${spec.bridgeAddress}` +
        (opened ? ` with ${opened.llmNames.join(', ')}` : ' with the built-in proposer'),
    );

    const handover = new Handover(() =>
      client.health({ deadlineMs: 10_000 }).then(
        () => true,
        () => false,
      ),
    );
    const space = new ClientMeasuredSpace(
      client,
      task.task_id,
      task.mutators.map((m) => ({ name: m.name, probability: m.probability })),
      handover,
    );
    const wiring = opened ? llmSearchWiring(opened, { trialsPerIter: spec.trialsPerIter }) : undefined;
    const search = new Search(
      { maxTrials: spec.maxTrials, trialsPerIter: spec.trialsPerIter, seed: spec.seed, ...wiring?.searchOptions },
      { space, proposers: wiring?.proposers ?? { builtin: new BuiltinProposer() }, clock: () => performance.now() },
    );
    job.onCancel(() => {
      search.cancel();
      handover.abandon([]);
    });

    const closeAll = async (): Promise<void> => {
      await opened?.close();
      client.close();
    };
    search
      .run((event) => job.onEvent(event))
      .then(
        async () => {
          handover.finish();
          await closeAll();
          job.finish();
        },
        async (err: unknown) => {
          const error = ColtError.from(err);
          handover.finish(error);
          await closeAll();
          job.fail(error);
        },
      );
    return {
      next: (results, signal) => handover.next(results, signal),
      end: async (results) => {
        search.cancel();
        handover.abandon(results);
        await job.ended;
      },
    };
  } catch (err) {
    await pool?.close();
    client.close();
    throw err;
  }
}
