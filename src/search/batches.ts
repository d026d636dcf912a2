// The measuring side of a search: which schedules go out to the devices in a batch, the batches
// still out, and what the landed ones brought back. Several batches may be out at once, so that
// the search expands for the next batch while one is being measured.
import type { Budget } from './budget';
import { SearchError } from './errors';
import type { MeasurementRecord, SearchEvent, SearchResult } from './events';
import type { ResolvedSearchOptions } from './options';
import type { Rng } from './rng';
import type { Reconciled } from './snapshot';
import { scoreValue, traceOf, type Tree, type TreeNode } from './tree';
import type { Candidate, MeasureErrorCode, MeasureOutcome, ScheduleSpace } from './types';

/** Batches in a row in which every trial's device was lost, before the search gives up. */
export const MAX_STALLED_BATCHES = 3;

export interface BatchDeps {
  options: ResolvedSearchOptions;
  space: ScheduleSpace;
  /** Milliseconds, monotone. */
  clock: () => number;
  /** Draws the seed of a refill from the design space. */
  sampleRng: Rng;
  /** Draws the random share of a batch. */
  measureRng: Rng;
  /** The cost model's scores, sanitised. */
  predict(traces: string[]): Promise<number[]>;
  /** Adds `count` samples from the design space under the root, when too few are unmeasured. */
  refill(count: number, seed: number): Promise<unknown>;
  emit(e: SearchEvent): void;
}

/** A batch out on the devices. */
interface InFlight {
  nodes: TreeNode[];
  outcomes: Promise<MeasureOutcome[]>;
  launchedAt: number;
}

type MeasureEvent = Extract<SearchEvent, { type: 'measure' }>;

export class Batches {
  /** Batches landed. */
  rounds = 0;
  /** Every trial, in measurement order. */
  readonly measurements: MeasurementRecord[] = [];
  /** Time with at least one batch out: batches out together count once. */
  measureMs = 0;
  private best: TreeNode | undefined;
  private bestLatency = Infinity;
  private inFlight: InFlight[] = [];
  private lastLandedAt = -Infinity;
  private stalled = 0;

  constructor(private readonly deps: BatchDeps) {}

  /** Takes over the trials of a restored search. */
  resume(rounds: number, { measurements, best, bestLatency }: Reconciled): void {
    this.rounds = rounds;
    this.measurements.push(...measurements);
    this.best = best;
    this.bestLatency = bestLatency;
  }

  /** The fastest trial, as a result reports it. */
  bestTrial(): SearchResult['best'] {
    const best = this.best;
    if (!best?.candidate || best.measured.status !== 'ok') return undefined;
    const { traceJson, shash } = best.candidate;
    return { nodeId: best.id, traceJson, shash, latencySec: best.measured.latencySec };
  }

  /** Batches out on the devices. */
  get outCount(): number {
    return this.inFlight.length;
  }

  /** Whether the next batch is the run's first: none has landed and none is out. */
  nextIsFirst(): boolean {
    return this.rounds === 0 && this.inFlight.length === 0;
  }

  /** Whether another batch may go out: a free slot, and budget not spent or promised. */
  canLaunch(budget: Budget): boolean {
    const slotFree = this.inFlight.length < this.deps.options.maxBatchesInFlight;
    return slotFree && budget.remainingTrials - this.pendingTrials() > 0;
  }

  /**
   * Sends one batch out. Returns false when there was nothing left to measure: no unmeasured
   * schedule in the tree and none new from the design space.
   */
  async launch(tree: Tree, budget: Budget): Promise<boolean> {
    const { options, space } = this.deps;
    const size = this.nextIsFirst() ? options.firstBatch : options.trialsPerIter;
    const need = Math.min(size, budget.remainingTrials - this.pendingTrials());
    let candidates = unmeasured(tree);
    if (candidates.length < need) {
      await this.deps.refill(need, this.deps.sampleRng.nextUint32());
      candidates = unmeasured(tree);
    }
    if (candidates.length === 0) return false;
    if (this.rounds > 0) {
      // The cost model was retrained on the last batch: rank on its current opinion, not on
      // the scores it gave (at first at random) when each schedule was created, and let the
      // tree's values follow it.
      const scores = await this.deps.predict(candidates.map(traceOf));
      candidates.forEach((n, i) => {
        tree.adjust(n, scoreValue(scores[i]) - scoreValue(n.predictedScore ?? 0));
        n.predictedScore = scores[i];
      });
    }

    const batch = pickForMeasurement(candidates, need, options, this.deps.measureRng);
    for (const node of batch) node.measured = { status: 'pending' };
    const launchedAt = this.deps.clock();
    const outcomes = space.measure(batch.map(traceOf));
    // Awaited when the batch lands; until then a failure must not count as unhandled.
    outcomes.catch(() => undefined);
    this.inFlight.push({ nodes: batch, outcomes, launchedAt });
    return true;
  }

  /** Waits for the oldest batch out, and takes in its results. */
  async land(tree: Tree, budget: Budget): Promise<void> {
    const flight = this.inFlight[0];
    let outcomes: MeasureOutcome[];
    try {
      outcomes = await flight.outcomes;
    } finally {
      this.inFlight.shift();
      const landedAt = this.deps.clock();
      this.measureMs += Math.max(0, landedAt - Math.max(flight.launchedAt, this.lastLandedAt));
      this.lastLandedAt = landedAt;
    }
    const batch = flight.nodes;
    if (outcomes.length !== batch.length) {
      throw new Error(`measure returned ${outcomes.length} results for ${batch.length} traces`);
    }

    this.rounds += 1;
    const report: MeasureEvent['batch'] = [];
    const lost: NonNullable<MeasureEvent['lost']> = [];
    const trials: TreeNode[] = [];
    batch.forEach((node, i) => {
      const outcome = outcomes[i];
      const candidate = node.candidate as Candidate;
      const device = outcome.device ? { device: outcome.device } : {};
      if (!outcome.ok && outcome.code === 'DEVICE_LOST') {
        // Says nothing about the schedule: not a trial, and it may be picked again.
        node.lostRuns += 1;
        node.measured =
          node.lostRuns >= this.deps.options.maxDeviceLosses
            ? { status: 'error', code: 'DEVICE_LOST' }
            : { status: 'unmeasured' };
        lost.push({ nodeId: node.id, shash: candidate.shash, ...device, message: outcome.message });
        return;
      }
      trials.push(node);
      const latency = outcome.ok ? mean(outcome.runSecs) : NaN;
      if (outcome.ok && Number.isFinite(latency) && latency > 0) {
        node.measured = { status: 'ok', latencySec: latency };
        if (latency < this.bestLatency) {
          this.bestLatency = latency;
          this.best = node;
        }
        this.measurements.push({ nodeId: node.id, shash: candidate.shash, traceJson: candidate.traceJson, latencySec: latency, ...device });
        report.push({ nodeId: node.id, shash: candidate.shash, latencySec: latency, ...device });
      } else {
        // A run that reported no usable time is a failed run, not a fast one.
        const code: MeasureErrorCode = outcome.ok ? 'RUN_FAILED' : outcome.code;
        node.measured = { status: 'error', code };
        this.measurements.push({ nodeId: node.id, shash: candidate.shash, traceJson: candidate.traceJson, error: code, ...device });
        report.push({ nodeId: node.id, shash: candidate.shash, error: code, ...device });
      }
    });
    budget.consume(trials.length);
    // Measured speedups relative to the best so far, in (0, 1], as one more simulation each.
    for (const node of trials) {
      if (node.measured.status === 'ok') tree.backup(node, this.bestLatency / node.measured.latencySec);
    }

    this.deps.emit({
      type: 'measure',
      round: this.rounds,
      trialsUsed: budget.trialsUsed,
      maxTrials: this.deps.options.maxTrials,
      ...(this.best ? { bestLatencySec: this.bestLatency } : {}),
      batch: report,
      ...(lost.length > 0 ? { lost } : {}),
    });

    this.stalled = trials.length === 0 && lost.length > 0 ? this.stalled + 1 : 0;
    if (this.stalled >= MAX_STALLED_BATCHES) {
      const lastMessage = lost[lost.length - 1].message;
      throw new SearchError(
        'MEASUREMENT_STALLED',
        `no trial could be run in ${this.stalled} batches in a row: every device was lost (${lastMessage})`,
      );
    }
  }

  /** Trials out on the devices. */
  private pendingTrials(): number {
    return this.inFlight.reduce((n, b) => n + b.nodes.length, 0);
  }
}

function unmeasured(tree: Tree): TreeNode[] {
  return tree.schedules().filter((n) => n.measured.status === 'unmeasured' && n.predictedScore !== undefined);
}

/**
 * The best `need` by predicted score, each at least batchDistance decisions from the ones
 * picked before it (a batch of near-twins teaches the cost model little and spends trials on
 * one neighbourhood), except round(need × randomShare) of them drawn uniformly from the rest
 * (MetaSchedule's epsilon-greedy). With the defaults a batch of 16 has one random pick, a
 * batch of 8 or fewer none; when every candidate fits in the batch there is nothing to choose.
 */
function pickForMeasurement(
  candidates: TreeNode[],
  need: number,
  options: Pick<ResolvedSearchOptions, 'randomShare' | 'batchDistance'>,
  rng: Rng,
): TreeNode[] {
  const ranked = [...candidates].sort((a, b) => (b.predictedScore ?? 0) - (a.predictedScore ?? 0) || a.id - b.id);
  if (ranked.length <= need) return ranked;
  const randomCount = Math.round(need * options.randomShare);
  const { top, rest } = spreadPick(ranked, need - randomCount, options.batchDistance);
  for (let i = 0; i < randomCount; i++) {
    const j = i + rng.int(rest.length - i);
    [rest[i], rest[j]] = [rest[j], rest[i]];
    top.push(rest[i]);
  }
  return top;
}

/**
 * The first `count` of `ranked` (best first) that differ from every earlier pick in at least
 * `distance` decisions; the ones passed over go back in front of the rest, and fill the picks
 * when too few are far enough apart.
 */
function spreadPick(ranked: TreeNode[], count: number, distance: number): { top: TreeNode[]; rest: TreeNode[] } {
  if (distance <= 1) return { top: ranked.slice(0, count), rest: ranked.slice(count) };
  const picked: Array<Map<number, string>> = [];
  const top: TreeNode[] = [];
  const near: TreeNode[] = [];
  let i = 0;
  for (; i < ranked.length && top.length < count; i++) {
    const values = decisionValues(ranked[i]);
    if (picked.every((p) => decisionDistance(p, values) >= distance)) {
      top.push(ranked[i]);
      picked.push(values);
    } else near.push(ranked[i]);
  }
  const rest = [...near, ...ranked.slice(i)];
  while (top.length < count && rest.length > 0) top.push(rest.shift() as TreeNode);
  return { top, rest };
}

/** A schedule's decisions: instruction index → value, as JSON. */
function decisionValues(node: TreeNode): Map<number, string> {
  return new Map((node.candidate?.decisions ?? []).map((d) => [d.instIndex, JSON.stringify(d.value)]));
}

/** Decisions whose values differ between two schedules (one missing from either counts). */
function decisionDistance(a: Map<number, string>, b: Map<number, string>): number {
  let differ = 0;
  let shared = 0;
  for (const [index, value] of b) {
    const other = a.get(index);
    if (other === undefined) differ += 1;
    else {
      shared += 1;
      if (other !== value) differ += 1;
    }
  }
  return differ + (a.size - shared);
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
