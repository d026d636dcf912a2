// One Monte Carlo tree search over MetaSchedule traces. Each round expands the tree (the tree
// policy picks a node, the proposer named by the node's model label proposes, the space
// applies and the cost model scores), then measures the most promising unmeasured schedules
// on hardware. With course alteration on, a streak of regressions by small models hands the
// latest one to the largest model for a second opinion. With several batches allowed in
// flight, the next expansion phase runs while a batch is out on the devices. The core only
// talks to a ScheduleSpace and Proposers, and reads time from an injected clock; its state
// goes in and out as plain data (snapshot / restore), for checkpoints kept by the caller.
import { Budget, type StopReason } from './budget';
import { resolveSearchOptions, SearchOptionsError, type ResolvedSearchOptions, type SearchOptions } from './options';
import { selectLeaf, type TreePolicy } from './policy';
import { Rng } from './rng';
import { Tree, type TreeNode, type TreeSnapshot } from './tree';
import type {
  ApplyErrorCode,
  Candidate,
  CommittedTrial,
  MeasureErrorCode,
  MeasureOutcome,
  NodeView,
  Proposal,
  ProposalContext,
  Proposer,
  Regression,
  ScheduleSpace,
} from './types';

export type SearchEvent =
  /** resumed: what a restored search took over (trials the database already holds, schedules in the tree). */
  | { type: 'start'; maxTrials: number; initialPopulation: number; resumed?: { trialsUsed: number; schedules: number } }
  /**
   * Schedules added as the root's children: the initial population, or a refill when too few
   * unmeasured schedules were left to fill a measurement batch. failures: samples asked for
   * that did not arrive or were already in the tree. seeded: of the count, warm-start seeds.
   */
  | { type: 'population'; count: number; failures?: number; refill: boolean; seeded?: number }
  /**
   * One expansion attempt by `model` on node parentId. On success nodeId is the new child and
   * nextModel its label; on failure code is the space's reason, duplicate marks a schedule
   * already in the tree, and emptyProposal a proposal with no transformation.
   */
  | {
      type: 'expand';
      nodeId?: number;
      parentId: number;
      model: string;
      ok: boolean;
      nextModel?: string;
      code?: ApplyErrorCode;
      duplicate?: boolean;
      emptyProposal?: boolean;
    }
  /**
   * One measurement batch has landed; round counts batches from 1. batch: its trials; lost:
   * schedules whose device was lost under them (not trials: they may be measured again).
   */
  | {
      type: 'measure';
      round: number;
      trialsUsed: number;
      maxTrials: number;
      bestLatencySec?: number;
      batch: Array<{ nodeId: number; shash: string; latencySec?: number; error?: MeasureErrorCode; device?: string }>;
      lost?: Array<{ nodeId: number; shash: string; device?: string; message: string }>;
    }
  /**
   * Course alteration: the streak-th consecutive small-model regression (child smallNodeId,
   * scored smallScore under parentId) was handed to largeModel. largeScore is its schedule's
   * score, absent when its proposal produced no new schedule (code / duplicate / emptyProposal
   * say why). When replaced, node nodeId (labelled nextModel) took the small child's place.
   */
  | {
      type: 'escalate';
      streak: number;
      smallModel: string;
      largeModel: string;
      parentId: number;
      smallNodeId: number;
      parentScore: number;
      smallScore: number;
      largeScore?: number;
      replaced: boolean;
      nodeId?: number;
      nextModel?: string;
      code?: ApplyErrorCode;
      duplicate?: boolean;
      emptyProposal?: boolean;
    }
  | { type: 'done'; reason: StopReason };

export interface ModelStats {
  /** Expansion attempts by this model, failed ones included. */
  expansions: number;
  /** Attempts that produced no new schedule. */
  failures: number;
  /** Children the cost model scored above their parent. */
  improved: number;
}

export interface MeasurementRecord {
  nodeId: number;
  shash: string;
  traceJson: string;
  latencySec?: number;
  error?: string;
  /** The RPC device that ran it (host:port). */
  device?: string;
}

/** Everything a search needs to carry on where it was, as plain JSON data. */
export interface SearchSnapshot {
  version: 1;
  tree: TreeSnapshot;
  /** Whether the initial population was sampled. */
  populated: boolean;
  rounds: number;
  trialsUsed: number;
  measurements: MeasurementRecord[];
  perModel: Record<string, ModelStats>;
  recentExpanders: string[];
  streak: number;
  regressions: Regression[];
  escalations: { asked: number; replaced: number };
  rng: { propose: number; apply: number; sample: number; measure: number };
  /** Proposers' own state, by model label, for those that keep one. */
  proposers: Record<string, unknown>;
}

/** Batches in a row in which every trial's device was lost, before the search gives up. */
export const MAX_STALLED_BATCHES = 3;

/** No device measured anything for several batches in a row: the devices are gone. */
export class MeasurementStalledError extends Error {
  constructor(
    readonly batches: number,
    readonly lastMessage: string,
  ) {
    super(`no trial could be run in ${batches} batches in a row: every device was lost (${lastMessage})`);
    this.name = 'MeasurementStalledError';
  }
}

/** A batch out on the devices. */
interface InFlight {
  nodes: TreeNode[];
  outcomes: Promise<MeasureOutcome[]>;
  launchedAt: number;
}

export interface SearchResult {
  stopReason: StopReason;
  trialsUsed: number;
  /** Measurement batches run. */
  rounds: number;
  best?: { nodeId: number; traceJson: string; shash: string; latencySec: number };
  timings: { searchSec: number; predictSec: number; measureSec: number; totalSec: number };
  /** Schedules in the tree. */
  nodes: number;
  /** Every trial, in measurement order. */
  measurements: MeasurementRecord[];
  perModel: Record<string, ModelStats>;
  /** Course alteration: corrections asked of the largest model, and how many replaced a child. */
  escalations: { asked: number; replaced: number };
}

export interface SearchDeps {
  space: ScheduleSpace;
  /** Proposers by model label; a node's label picks the one that acts on it. */
  proposers: Record<string, Proposer>;
  /** Milliseconds, monotone. */
  clock: () => number;
}

/** A child created this round whose cost-model score is still to come. */
interface Unscored {
  child: TreeNode;
  parent: TreeNode;
  model: string;
  proposal: Proposal;
  /** The value backed up for the child at creation, corrected once it is scored. */
  provisional: number;
}

/** Value of a predicted score, as the published code backs it up: max(0, prediction). */
function scoreValue(score: number): number {
  return Math.max(0, score);
}

/** A cost model may return NaN for a trace it cannot featurise; treat it as no evidence. */
function sanitizeScore(score: number): number {
  return Number.isFinite(score) ? score : 0;
}

/** How many regressions of a streak a correction prompt shows. */
const HISTORY_LENGTH = 4;
/** How many recent expanders proposers are told about. */
const RECENT_EXPANDERS = 3;

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export class Search {
  private readonly options: ResolvedSearchOptions;
  private readonly space: ScheduleSpace;
  private readonly proposers: Map<string, Proposer>;
  private readonly clock: () => number;
  private readonly policy: TreePolicy;
  private tree: Tree;
  // Separate streams, so that e.g. a proposer drawing more numbers does not change which
  // schedules the measurement phase picks at random.
  private readonly proposalRng: Rng;
  private readonly applyRng: Rng;
  private readonly sampleRng: Rng;
  private readonly measureRng: Rng;

  private started = false;
  private cancelled = false;
  private emit: (e: SearchEvent) => void = () => undefined;
  private budget!: Budget;
  private unscored: Unscored[] = [];
  private predictMs = 0;
  private measureMs = 0;
  private rounds = 0;
  private best: TreeNode | undefined;
  private bestLatency = Infinity;
  private readonly measurements: MeasurementRecord[] = [];
  private readonly perModel: Record<string, ModelStats> = {};
  private readonly recentExpanders: string[] = [];
  /** Consecutive small-model regressions, and the last few of them. */
  private streak = 0;
  private regressions: Regression[] = [];
  private escalations = { asked: 0, replaced: 0 };
  private populated = false;
  private inFlight: InFlight[] = [];
  /** When the last batch landed: measuring time is the union of the batches' time out. */
  private lastLandedAt = -Infinity;
  private stalledBatches = 0;
  /** What restore() handed over, applied when run() starts. */
  private restoring: { snapshot?: SearchSnapshot; committed: CommittedTrial[] } | undefined;
  private seeds: Candidate[] = [];

  constructor(options: SearchOptions, deps: SearchDeps) {
    this.options = resolveSearchOptions(options);
    this.space = deps.space;
    this.clock = deps.clock;
    // A Map, so that labels such as "constructor" never resolve to Object.prototype members.
    this.proposers = new Map(Object.entries(deps.proposers));
    if (!this.proposers.has(this.options.defaultModel)) {
      throw new SearchOptionsError([
        `defaultModel: "${this.options.defaultModel}" is not among the proposers (${[...this.proposers.keys()].join(', ')})`,
      ]);
    }
    const alteration = this.options.courseAlteration;
    if (alteration && !this.proposers.has(alteration.model)) {
      throw new SearchOptionsError([
        `courseAlteration.model: "${alteration.model}" is not among the proposers (${[...this.proposers.keys()].join(', ')})`,
      ]);
    }
    for (const model of this.proposers.keys()) {
      this.perModel[model] = { expansions: 0, failures: 0, improved: 0 };
    }
    this.policy = {
      maxChildren: this.options.maxChildren,
      explorationC: this.options.explorationC,
      modelBias: this.options.modelBias,
    };
    this.tree = new Tree(this.options.defaultModel);
    const rng = new Rng(this.options.seed);
    this.proposalRng = rng.fork('propose');
    this.applyRng = rng.fork('apply');
    this.sampleRng = rng.fork('sample');
    this.measureRng = rng.fork('measure');
  }

  /** Stops the search at the next step boundary; the call in flight finishes first. */
  cancel(): void {
    this.cancelled = true;
  }

  /**
   * Hands over a checkpoint and what the database holds, before run(): the search carries on
   * from the snapshot (when there is one), with the database as the record of truth. Every
   * committed trial counts against the budget, its schedule is never measured again, and a
   * schedule the snapshot saw measured but the database does not hold is measured again.
   */
  restore(snapshot: SearchSnapshot | undefined, committed: CommittedTrial[]): void {
    if (this.started) throw new Error('restore() comes before run()');
    if (snapshot && snapshot.version !== 1) throw new Error(`unknown search snapshot version ${String(snapshot.version)}`);
    this.restoring = { snapshot, committed };
  }

  /** Schedules (e.g. another run's best) that join the initial population, before run(). */
  seedPopulation(candidates: Candidate[]): void {
    if (this.started) throw new Error('seedPopulation() comes before run()');
    this.seeds = [...candidates];
  }

  /**
   * The search's state as plain data. Between steps only: from an event handler, or when no
   * run is in progress. Batches still out are in it as pending; restore() measures them again
   * unless the database has them.
   */
  snapshot(): SearchSnapshot {
    const proposers: Record<string, unknown> = {};
    for (const [name, p] of this.proposers) {
      const state = p.snapshot?.();
      if (state !== undefined) proposers[name] = state;
    }
    return {
      version: 1,
      tree: this.tree.snapshot(),
      populated: this.populated,
      rounds: this.rounds,
      trialsUsed: this.budget ? this.budget.trialsUsed : 0,
      measurements: this.measurements.map((m) => ({ ...m })),
      perModel: JSON.parse(JSON.stringify(this.perModel)) as Record<string, ModelStats>,
      recentExpanders: [...this.recentExpanders],
      streak: this.streak,
      regressions: JSON.parse(JSON.stringify(this.regressions)) as Regression[],
      escalations: { ...this.escalations },
      rng: {
        propose: this.proposalRng.save(),
        apply: this.applyRng.save(),
        sample: this.sampleRng.save(),
        measure: this.measureRng.save(),
      },
      proposers,
    };
  }

  /**
   * Runs the search to the end of its budget. An exception from the space or a proposer ends
   * the search and propagates; no event follows it.
   */
  async run(onEvent?: (e: SearchEvent) => void): Promise<SearchResult> {
    if (this.started) throw new Error('a Search runs once; create a new one');
    this.started = true;
    if (onEvent) this.emit = onEvent;
    const startMs = this.clock();
    const restoring = this.restoring;
    this.restoring = undefined;
    const unscoredCommitted = restoring ? this.applyRestore(restoring.snapshot, restoring.committed) : [];
    this.budget = new Budget(
      this.options.maxTrials,
      this.clock,
      startMs,
      this.options.timeBudgetSec,
      restoring ? restoring.committed.length : 0,
    );
    this.emit({
      type: 'start',
      maxTrials: this.options.maxTrials,
      initialPopulation: this.options.initialPopulation,
      ...(restoring ? { resumed: { trialsUsed: this.budget.trialsUsed, schedules: this.tree.size } } : {}),
    });
    if (unscoredCommitted.length > 0) {
      const scores = await this.predict(unscoredCommitted.map(traceOf));
      unscoredCommitted.forEach((n, i) => {
        n.predictedScore = scores[i];
        this.tree.backup(n, scoreValue(scores[i]));
      });
    }

    let reason = this.stopReason();
    if (!reason && !this.populated) {
      await this.populate(this.options.initialPopulation, this.options.seed, false);
      reason = this.stopReason();
    }
    while (!reason) {
      if (this.canLaunch()) {
        if (!(this.nextIsFirstBatch() && this.options.measureFirst)) await this.expansionPhase();
        reason = this.stopReason();
        if (reason) break;
        const launched = await this.launchBatch();
        if (!launched && this.inFlight.length === 0) {
          reason = 'exhausted';
          break;
        }
        // Room for another batch: expand for it while this one is out.
        if (launched && this.canLaunch()) continue;
      }
      if (this.inFlight.length > 0) await this.landBatch();
      reason = this.stopReason();
    }
    // Batches still out finish first: their trials are spent and their records committed.
    while (this.inFlight.length > 0) await this.landBatch();

    this.emit({ type: 'done', reason });
    return this.result(reason, startMs);
  }

  /**
   * Takes over a snapshot and the database's trials. Returns the nodes added for committed
   * trials the snapshot did not know, which still need a cost-model score.
   */
  private applyRestore(snapshot: SearchSnapshot | undefined, committed: CommittedTrial[]): TreeNode[] {
    if (snapshot) {
      this.tree = Tree.restore(snapshot.tree);
      this.populated = snapshot.populated;
      this.rounds = snapshot.rounds;
      this.recentExpanders.splice(0, this.recentExpanders.length, ...snapshot.recentExpanders);
      this.streak = snapshot.streak;
      this.regressions = snapshot.regressions.map((r) => ({ ...r }));
      this.escalations = { ...snapshot.escalations };
      for (const [model, stats] of Object.entries(snapshot.perModel)) {
        if (this.perModel[model]) this.perModel[model] = { ...stats };
      }
      this.proposalRng.load(snapshot.rng.propose);
      this.applyRng.load(snapshot.rng.apply);
      this.sampleRng.load(snapshot.rng.sample);
      this.measureRng.load(snapshot.rng.measure);
      for (const [name, state] of Object.entries(snapshot.proposers)) this.proposers.get(name)?.restore?.(state);
    }

    // The database is the record of truth for what was measured.
    const inDb = new Map<string, CommittedTrial>();
    for (const trial of committed) if (trial.candidate) inDb.set(trial.candidate.shash, trial);
    for (const node of this.tree.schedules()) {
      const m = node.measured;
      const retired = m.status === 'error' && m.code === 'DEVICE_LOST';
      if (!inDb.has((node.candidate as Candidate).shash) && m.status !== 'unmeasured' && !retired) {
        // Out when the run stopped, or measured but never committed: measure it again.
        node.measured = { status: 'unmeasured' };
      }
    }

    const added: TreeNode[] = [];
    const wasOk = new Set<TreeNode>();
    for (const [shash, trial] of inDb) {
      let node = this.tree.byShash(shash);
      if (!node) {
        node = this.tree.addChild(this.tree.root, trial.candidate as Candidate, this.options.defaultModel) as TreeNode;
        added.push(node);
      }
      if (node.measured.status === 'ok') wasOk.add(node);
      const latency = trial.latencySec;
      if (latency !== undefined && Number.isFinite(latency) && latency > 0) {
        node.measured = { status: 'ok', latencySec: latency };
      } else if (node.measured.status !== 'error') {
        // The database keeps no reason for a failure.
        node.measured = { status: 'error', code: 'RUN_FAILED' };
      }
    }

    // Trials in the order the snapshot saw them, then the ones it missed, in database order.
    const recordOf = (node: TreeNode, device?: string): MeasurementRecord => {
      const c = node.candidate as Candidate;
      const m = node.measured;
      return {
        nodeId: node.id,
        shash: c.shash,
        traceJson: c.traceJson,
        ...(m.status === 'ok' ? { latencySec: m.latencySec } : { error: m.status === 'error' ? m.code : 'RUN_FAILED' }),
        ...(device ? { device } : {}),
      };
    };
    const listed = new Set<string>();
    for (const m of snapshot?.measurements ?? []) {
      const node = inDb.has(m.shash) ? this.tree.byShash(m.shash) : undefined;
      if (!node || listed.has(m.shash)) continue;
      listed.add(m.shash);
      this.measurements.push(recordOf(node, m.device));
    }
    for (const shash of inDb.keys()) {
      if (listed.has(shash)) continue;
      listed.add(shash);
      this.measurements.push(recordOf(this.tree.byShash(shash) as TreeNode));
    }
    for (const m of this.measurements) {
      if (m.latencySec !== undefined && m.latencySec < this.bestLatency) {
        this.bestLatency = m.latencySec;
        this.best = this.tree.byShash(m.shash);
      }
    }
    // Measured speedups the snapshot had not backed up yet (a batch that landed after it).
    for (const m of this.measurements) {
      const node = this.tree.byShash(m.shash) as TreeNode;
      if (m.latencySec !== undefined && !wasOk.has(node)) this.tree.backup(node, this.bestLatency / m.latencySec);
    }
    return added;
  }

  private stopReason(): StopReason | undefined {
    if (this.cancelled) return 'cancelled';
    return this.budget.spent();
  }

  /** Samples from the design space and adds the new schedules, scored, under the root. */
  private async populate(count: number, seed: number, refill: boolean): Promise<TreeNode[]> {
    const added: TreeNode[] = [];
    // Warm-start seeds join the initial population in place of as many samples.
    const seeds = refill ? [] : this.seeds.splice(0, count);
    for (const candidate of seeds) {
      const node = this.tree.addChild(this.tree.root, candidate, this.options.defaultModel);
      if (node) added.push(node);
    }
    const seeded = added.length;
    const toSample = count - seeds.length;
    const sampled = toSample > 0 ? await this.space.sampleInitial(toSample, seed) : [];
    for (const candidate of sampled) {
      const node = this.tree.addChild(this.tree.root, candidate, this.options.defaultModel);
      if (node) added.push(node);
    }
    if (added.length > 0) {
      const scores = await this.predict(added.map((n) => traceOf(n)));
      added.forEach((n, i) => {
        n.predictedScore = scores[i];
        // Counted as a visit like an expanded child's score, so that the policy weighs these
        // schedules against measured ones instead of visiting every one of them first.
        this.tree.backup(n, scoreValue(scores[i]));
      });
    }
    if (!refill) this.populated = true;
    const failures = count - added.length;
    this.emit({
      type: 'population',
      count: added.length,
      ...(failures > 0 ? { failures } : {}),
      refill,
      ...(seeded > 0 ? { seeded } : {}),
    });
    return added;
  }

  private async expansionPhase(): Promise<void> {
    for (let i = 0; i < this.options.expansionsPerRound; i++) {
      if (this.cancelled || this.budget.timeUp()) break;
      let selection = selectLeaf(this.tree, this.policy);
      if (selection.kind === 'pending') {
        await this.scoreUnscored();
        selection = selectLeaf(this.tree, this.policy);
      }
      if (selection.kind !== 'expand') break;
      await this.expand(selection.node);
    }
    await this.scoreUnscored();
  }

  private async expand(node: TreeNode): Promise<void> {
    const model = this.proposers.has(node.model) ? node.model : this.options.defaultModel;
    const proposer = this.proposers.get(model) as Proposer;
    const stats = this.perModel[model];
    stats.expansions += 1;

    const proposal = await proposer.propose(await this.context(node, proposer));
    const fail = (details: { code?: ApplyErrorCode; duplicate?: boolean; emptyProposal?: boolean }): void => {
      stats.failures += 1;
      this.tree.recordFailure(node, this.options.maxFailures);
      // A proposal that changed nothing did not improve on its parent.
      proposer.feedback?.(proposal, false);
      this.emit({ type: 'expand', parentId: node.id, model, ok: false, ...details });
    };

    if (proposal.transformations.length === 0) return fail({ emptyProposal: true });
    const outcome = await this.space.apply(traceOf(node), proposal.transformations, this.applyRng.nextUint32());
    if (!outcome.ok) return fail({ code: outcome.code });
    const nextModel = this.labelFor(proposal, model);
    const child = this.tree.addChild(node, outcome.candidate, nextModel, model);
    if (!child) return fail({ duplicate: true });
    this.noteExpander(model);

    // Counted now with the parent's score as a stand-in, so that the rest of this phase sees
    // the visit and spreads out; corrected when the batch is scored.
    const provisional = scoreValue(node.predictedScore ?? 0);
    this.tree.backup(child, provisional);
    this.unscored.push({ child, parent: node, model, proposal, provisional });
    this.emit({ type: 'expand', nodeId: child.id, parentId: node.id, model, ok: true, nextModel });
  }

  /** A proposal's model label if a proposer answers to it, else the acting model's. */
  private labelFor(proposal: Proposal, actingModel: string): string {
    return proposal.nextModel !== undefined && this.proposers.has(proposal.nextModel) ? proposal.nextModel : actingModel;
  }

  private noteExpander(model: string): void {
    this.recentExpanders.push(model);
    if (this.recentExpanders.length > RECENT_EXPANDERS) this.recentExpanders.shift();
  }

  /** What `proposer` is told when it acts on node. */
  private async context(node: TreeNode, proposer: Proposer): Promise<ProposalContext> {
    const parent = node.parent?.candidate ? node.parent : undefined;
    const grandparent = parent?.parent?.candidate ? parent.parent : undefined;
    const ctx: ProposalContext = {
      node: this.tree.view(node),
      parent: parent && this.tree.view(parent),
      grandparent: grandparent && this.tree.view(grandparent),
      mutators: this.space.mutators,
      trialsUsed: this.budget.trialsUsed,
      maxTrials: this.options.maxTrials,
      models: [...this.proposers.keys()],
      random: () => this.proposalRng.next(),
      recentExpanders: [...this.recentExpanders],
    };
    if (proposer.wantsTvmScript?.()) await this.describe([ctx.node, ctx.parent, ctx.grandparent]);
    return ctx;
  }

  /**
   * Sets the views' TVMScript, where the space can print it. A failure leaves them without:
   * the proposer does without TVMScript rather than the search failing over a prompt.
   */
  private async describe(views: Array<NodeView | undefined>): Promise<void> {
    if (!this.space.describe) return;
    const shown = views.filter((v): v is NodeView => v !== undefined);
    let scripts: string[];
    try {
      scripts = await this.space.describe(shown.map((v) => v.traceJson));
    } catch {
      return;
    }
    shown.forEach((v, i) => {
      if (typeof scripts[i] === 'string' && scripts[i] !== '') v.tvmscript = scripts[i];
    });
  }

  /** Scores this phase's new children in one cost-model call and backs up their values. */
  private async scoreUnscored(): Promise<void> {
    if (this.unscored.length === 0) return;
    const batch = this.unscored;
    this.unscored = [];
    const scores = await this.predict(batch.map((u) => traceOf(u.child)));
    batch.forEach((u, i) => {
      u.child.predictedScore = scores[i];
      this.tree.adjust(u.child, scoreValue(scores[i]) - u.provisional);
      const improved = scores[i] > (u.parent.predictedScore ?? 0);
      if (improved) this.perModel[u.model].improved += 1;
      this.proposers.get(u.model)?.feedback?.(u.proposal, improved);
    });
    const alteration = this.options.courseAlteration;
    if (!alteration) return;
    // In creation order, so the streak follows the order in which the models acted.
    for (let i = 0; i < batch.length; i++) {
      const u = batch[i];
      if (u.model === alteration.model) continue;
      const parentScore = u.parent.predictedScore ?? 0;
      if (scores[i] >= parentScore) {
        this.streak = 0;
        this.regressions = [];
        continue;
      }
      this.streak += 1;
      this.regressions.push({ model: u.model, proposal: u.proposal, parentScore, childScore: scores[i] });
      if (this.regressions.length > HISTORY_LENGTH) this.regressions.shift();
      if (this.streak % alteration.streak === 0) await this.escalate(u, alteration.model, parentScore, scores[i]);
    }
  }

  /**
   * Asks the largest model for a better child of u's parent. Its schedule takes the place of
   * u's child unless the cost model scores it lower.
   */
  private async escalate(u: Unscored, large: string, parentScore: number, smallScore: number): Promise<void> {
    const proposer = this.proposers.get(large) as Proposer;
    const ctx = await this.context(u.parent, proposer);
    const history = [...this.regressions];
    const request = { ...history[history.length - 1], streak: this.streak, history };
    const proposal = proposer.correct ? await proposer.correct(ctx, request) : await proposer.propose(ctx);
    if (!proposal) return;

    this.escalations.asked += 1;
    const stats = this.perModel[large];
    stats.expansions += 1;
    const base = {
      type: 'escalate' as const,
      streak: this.streak,
      smallModel: u.model,
      largeModel: large,
      parentId: u.parent.id,
      smallNodeId: u.child.id,
      parentScore,
      smallScore,
    };
    // A correction that produced nothing is the large model's failure, not the parent's: the
    // parent already has its child, so it does not count towards retiring the parent.
    const fail = (details: { code?: ApplyErrorCode; duplicate?: boolean; emptyProposal?: boolean }): void => {
      stats.failures += 1;
      proposer.feedback?.(proposal, false);
      this.emit({ ...base, replaced: false, ...details });
    };
    if (proposal.transformations.length === 0) return fail({ emptyProposal: true });
    const outcome = await this.space.apply(traceOf(u.parent), proposal.transformations, this.applyRng.nextUint32());
    if (!outcome.ok) return fail({ code: outcome.code });
    if (this.tree.hasShash(outcome.candidate.shash)) return fail({ duplicate: true });

    const [largeScore] = await this.predict([outcome.candidate.traceJson]);
    const improved = largeScore > parentScore;
    if (improved) stats.improved += 1;
    proposer.feedback?.(proposal, improved);
    if (largeScore < smallScore) {
      this.emit({ ...base, largeScore, replaced: false });
      return;
    }
    const nextModel = this.labelFor(proposal, large);
    const node = this.tree.replace(u.child, outcome.candidate, nextModel, large) as TreeNode;
    node.predictedScore = largeScore;
    this.tree.adjust(node, scoreValue(largeScore) - scoreValue(smallScore));
    this.escalations.replaced += 1;
    this.noteExpander(large);
    this.emit({ ...base, largeScore, replaced: true, nodeId: node.id, nextModel });
  }

  /** Whether the next batch is the run's first: none has landed and none is out. */
  private nextIsFirstBatch(): boolean {
    return this.rounds === 0 && this.inFlight.length === 0;
  }

  /** Trials out on the devices. */
  private pendingTrials(): number {
    return this.inFlight.reduce((n, b) => n + b.nodes.length, 0);
  }

  /** Whether another batch may go out: a free slot, and budget not spent or promised. */
  private canLaunch(): boolean {
    return (
      this.inFlight.length < this.options.maxBatchesInFlight && this.budget.remainingTrials - this.pendingTrials() > 0
    );
  }

  /**
   * Sends one batch out. Returns false when there was nothing left to measure: no unmeasured
   * schedule in the tree and none new from the design space.
   */
  private async launchBatch(): Promise<boolean> {
    const size = this.nextIsFirstBatch() ? this.options.firstBatch : this.options.trialsPerIter;
    const need = Math.min(size, this.budget.remainingTrials - this.pendingTrials());
    let candidates = this.unmeasured();
    if (candidates.length < need) {
      await this.populate(need, this.sampleRng.nextUint32(), true);
      candidates = this.unmeasured();
    }
    if (candidates.length === 0) return false;
    if (this.rounds > 0) {
      // The cost model was retrained on the last batch: rank on its current opinion, not on
      // the scores it gave (at first at random) when each schedule was created, and let the
      // tree's values follow it.
      const scores = await this.predict(candidates.map(traceOf));
      candidates.forEach((n, i) => {
        this.tree.adjust(n, scoreValue(scores[i]) - scoreValue(n.predictedScore ?? 0));
        n.predictedScore = scores[i];
      });
    }

    const batch = this.pickForMeasurement(candidates, need);
    for (const node of batch) node.measured = { status: 'pending' };
    const launchedAt = this.clock();
    const outcomes = this.space.measure(batch.map(traceOf));
    // Awaited when the batch lands; until then a failure must not count as unhandled.
    outcomes.catch(() => undefined);
    this.inFlight.push({ nodes: batch, outcomes, launchedAt });
    return true;
  }

  /** Waits for the oldest batch out, and takes in its results. */
  private async landBatch(): Promise<void> {
    const flight = this.inFlight[0];
    let outcomes: MeasureOutcome[];
    try {
      outcomes = await flight.outcomes;
    } finally {
      this.inFlight.shift();
      const landedAt = this.clock();
      this.measureMs += Math.max(0, landedAt - Math.max(flight.launchedAt, this.lastLandedAt));
      this.lastLandedAt = landedAt;
    }
    const batch = flight.nodes;
    if (outcomes.length !== batch.length) {
      throw new Error(`measure returned ${outcomes.length} results for ${batch.length} traces`);
    }

    this.rounds += 1;
    const report: Extract<SearchEvent, { type: 'measure' }>['batch'] = [];
    const lost: NonNullable<Extract<SearchEvent, { type: 'measure' }>['lost']> = [];
    const trials: TreeNode[] = [];
    batch.forEach((node, i) => {
      const outcome = outcomes[i];
      const candidate = node.candidate as Candidate;
      const device = outcome.device ? { device: outcome.device } : {};
      if (!outcome.ok && outcome.code === 'DEVICE_LOST') {
        // Says nothing about the schedule: not a trial, and it may be picked again.
        node.lostRuns += 1;
        node.measured =
          node.lostRuns >= this.options.maxDeviceLosses ? { status: 'error', code: 'DEVICE_LOST' } : { status: 'unmeasured' };
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
    this.budget.consume(trials.length);
    // Measured speedups relative to the best so far, in (0, 1], as one more simulation each.
    for (const node of trials) {
      if (node.measured.status === 'ok') this.tree.backup(node, this.bestLatency / node.measured.latencySec);
    }

    this.emit({
      type: 'measure',
      round: this.rounds,
      trialsUsed: this.budget.trialsUsed,
      maxTrials: this.options.maxTrials,
      ...(this.best ? { bestLatencySec: this.bestLatency } : {}),
      batch: report,
      ...(lost.length > 0 ? { lost } : {}),
    });

    this.stalledBatches = trials.length === 0 && lost.length > 0 ? this.stalledBatches + 1 : 0;
    if (this.stalledBatches >= MAX_STALLED_BATCHES) {
      throw new MeasurementStalledError(this.stalledBatches, lost[lost.length - 1].message);
    }
  }

  private unmeasured(): TreeNode[] {
    return this.tree
      .schedules()
      .filter((n) => n.measured.status === 'unmeasured' && n.predictedScore !== undefined);
  }

  /**
   * The best `need` by predicted score, each at least batchDistance decisions from the ones
   * picked before it (a batch of near-twins teaches the cost model little and spends trials on
   * one neighbourhood), except round(need × randomShare) of them drawn uniformly from the rest
   * (MetaSchedule's epsilon-greedy). With the defaults a batch of 16 has one random pick, a
   * batch of 8 or fewer none; when every candidate fits in the batch there is nothing to choose.
   */
  private pickForMeasurement(candidates: TreeNode[], need: number): TreeNode[] {
    const ranked = [...candidates].sort(
      (a, b) => (b.predictedScore ?? 0) - (a.predictedScore ?? 0) || a.id - b.id,
    );
    if (ranked.length <= need) return ranked;
    const randomCount = Math.round(need * this.options.randomShare);
    const { top, rest } = spreadPick(ranked, need - randomCount, this.options.batchDistance);
    for (let i = 0; i < randomCount; i++) {
      const j = i + this.measureRng.int(rest.length - i);
      [rest[i], rest[j]] = [rest[j], rest[i]];
      top.push(rest[i]);
    }
    return top;
  }

  private async predict(traces: string[]): Promise<number[]> {
    const scores = await this.timed(() => this.space.predict(traces));
    if (scores.length !== traces.length) {
      throw new Error(`predict returned ${scores.length} scores for ${traces.length} traces`);
    }
    return scores.map(sanitizeScore);
  }

  private async timed<T>(call: () => Promise<T>): Promise<T> {
    const t0 = this.clock();
    try {
      return await call();
    } finally {
      this.predictMs += this.clock() - t0;
    }
  }

  private result(stopReason: StopReason, startMs: number): SearchResult {
    const totalSec = (this.clock() - startMs) / 1000;
    const predictSec = this.predictMs / 1000;
    const measureSec = this.measureMs / 1000;
    const best = this.best;
    return {
      stopReason,
      trialsUsed: this.budget.trialsUsed,
      rounds: this.rounds,
      best:
        best?.candidate && best.measured.status === 'ok'
          ? {
              nodeId: best.id,
              traceJson: best.candidate.traceJson,
              shash: best.candidate.shash,
              latencySec: best.measured.latencySec,
            }
          : undefined,
      timings: { searchSec: Math.max(0, totalSec - predictSec - measureSec), predictSec, measureSec, totalSec },
      nodes: this.tree.size,
      measurements: this.measurements,
      perModel: this.perModel,
      escalations: { ...this.escalations },
    };
  }
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

function traceOf(node: TreeNode): string {
  if (!node.candidate) throw new Error('the root has no trace');
  return node.candidate.traceJson;
}
