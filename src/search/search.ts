// One Monte Carlo tree search over MetaSchedule traces. Each round expands the tree (the tree
// policy picks a node, the proposer named by the node's model label proposes, the space
// applies and the cost model scores), then measures the most promising unmeasured schedules
// on hardware. With course alteration on, a streak of regressions by small models hands the
// latest one to the largest model for a second opinion. With several batches allowed in
// flight, the next expansion phase runs while a batch is out on the devices. The core only
// talks to a ScheduleSpace and Proposers, and reads time from an injected clock; its state
// goes in and out as plain data (snapshot / restore), for checkpoints kept by the caller.
import { Batches } from './batches';
import { Budget, type StopReason } from './budget';
import { CourseAlteration, type ScoredChild } from './course-alteration';
import type { ModelStats, SearchEvent, SearchResult } from './events';
import { invalidOptions, resolveSearchOptions, type ResolvedSearchOptions, type SearchOptions } from './options';
import { selectLeaf, type TreePolicy } from './policy';
import { Rng } from './rng';
import { reconcile, type SearchSnapshot } from './snapshot';
import { scoreValue, traceOf, Tree, type TreeNode } from './tree';
import type {
  ApplyErrorCode,
  Candidate,
  CommittedTrial,
  NodeView,
  Proposal,
  ProposalContext,
  Proposer,
  Regression,
  ScheduleSpace,
} from './types';

export interface SearchDeps {
  space: ScheduleSpace;
  /** Proposers by model label; a node's label picks the one that acts on it. */
  proposers: Record<string, Proposer>;
  /** Milliseconds, monotone. */
  clock: () => number;
}

/** A child created this round whose cost-model score is still to come. */
interface Unscored extends ScoredChild {
  /** The value backed up for the child at creation, corrected once it is scored. */
  provisional: number;
}

/** How many recent expanders proposers are told about. */
const RECENT_EXPANDERS = 3;

// One random stream per purpose, so that e.g. a proposer drawing more numbers does not change
// which schedules the measurement phase picks at random.
const STREAMS = ['propose', 'apply', 'sample', 'measure'] as const;
type Streams = Record<(typeof STREAMS)[number], Rng>;

export class Search {
  private readonly options: ResolvedSearchOptions;
  private readonly space: ScheduleSpace;
  private readonly proposers: Map<string, Proposer>;
  private readonly clock: () => number;
  private readonly policy: TreePolicy;
  private tree: Tree;
  private readonly rng: Streams;
  private readonly batches: Batches;
  private readonly alteration: CourseAlteration;

  private started = false;
  private cancelled = false;
  private emit: (e: SearchEvent) => void = () => undefined;
  private budget!: Budget;
  private unscored: Unscored[] = [];
  private predictMs = 0;
  private readonly perModel: Record<string, ModelStats> = {};
  private readonly recentExpanders: string[] = [];
  private populated = false;
  /** What restore() handed over, applied when run() starts. */
  private restoring: { snapshot?: SearchSnapshot; committed: CommittedTrial[] } | undefined;
  private seeds: Candidate[] = [];

  constructor(options: SearchOptions, deps: SearchDeps) {
    this.options = resolveSearchOptions(options);
    this.space = deps.space;
    this.clock = deps.clock;
    // A Map, so that labels such as "constructor" never resolve to Object.prototype members.
    this.proposers = new Map(Object.entries(deps.proposers));
    const known = (): string => [...this.proposers.keys()].join(', ');
    if (!this.proposers.has(this.options.defaultModel)) {
      throw invalidOptions([`defaultModel: "${this.options.defaultModel}" is not among the proposers (${known()})`]);
    }
    const alteration = this.options.courseAlteration;
    if (alteration && !this.proposers.has(alteration.model)) {
      throw invalidOptions([`courseAlteration.model: "${alteration.model}" is not among the proposers (${known()})`]);
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
    const root = new Rng(this.options.seed);
    this.rng = Object.fromEntries(STREAMS.map((name) => [name, root.fork(name)])) as Streams;
    const emit = (e: SearchEvent): void => this.emit(e);
    const predict = (traces: string[]): Promise<number[]> => this.predict(traces);
    this.batches = new Batches({
      options: this.options,
      space: this.space,
      clock: this.clock,
      sampleRng: this.rng.sample,
      measureRng: this.rng.measure,
      predict,
      refill: (count, seed) => this.populate(count, seed, true),
      emit,
    });
    this.alteration = new CourseAlteration(
      {
        space: this.space,
        proposers: this.proposers,
        perModel: this.perModel,
        applyRng: this.rng.apply,
        context: (node, proposer) => this.context(node, proposer),
        predict,
        labelFor: (proposal, model) => this.labelFor(proposal, model),
        noteExpander: (model) => this.noteExpander(model),
        emit,
      },
      this.options.courseAlteration,
    );
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
      rounds: this.batches.rounds,
      trialsUsed: this.budget ? this.budget.trialsUsed : 0,
      measurements: this.batches.measurements.map((m) => ({ ...m })),
      perModel: JSON.parse(JSON.stringify(this.perModel)) as Record<string, ModelStats>,
      recentExpanders: [...this.recentExpanders],
      streak: this.alteration.streak,
      regressions: JSON.parse(JSON.stringify(this.alteration.regressions)) as Regression[],
      escalations: { ...this.alteration.escalations },
      rng: Object.fromEntries(STREAMS.map((name) => [name, this.rng[name].save()])) as SearchSnapshot['rng'],
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
    const committedTrials = restoring ? restoring.committed.length : 0;
    this.budget = new Budget(this.options.maxTrials, this.clock, startMs, this.options.timeBudgetSec, committedTrials);
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

    const { batches } = this;
    let reason = this.stopReason();
    if (!reason && !this.populated) {
      await this.populate(this.options.initialPopulation, this.options.seed, false);
      reason = this.stopReason();
    }
    while (!reason) {
      if (batches.canLaunch(this.budget)) {
        if (!(batches.nextIsFirst() && this.options.measureFirst)) await this.expansionPhase();
        reason = this.stopReason();
        if (reason) break;
        const launched = await batches.launch(this.tree, this.budget);
        if (!launched && batches.outCount === 0) {
          reason = 'exhausted';
          break;
        }
        // Room for another batch: expand for it while this one is out.
        if (launched && batches.canLaunch(this.budget)) continue;
      }
      if (batches.outCount > 0) await batches.land(this.tree, this.budget);
      reason = this.stopReason();
    }
    // Batches still out finish first: their trials are spent and their records committed.
    while (batches.outCount > 0) await batches.land(this.tree, this.budget);

    this.emit({ type: 'done', reason });
    return this.result(reason, startMs);
  }

  /**
   * Takes over a snapshot, each part by its owner, and the database's trials. Returns the
   * nodes added for committed trials the snapshot did not know, which still need a score.
   */
  private applyRestore(snapshot: SearchSnapshot | undefined, committed: CommittedTrial[]): TreeNode[] {
    if (snapshot) {
      this.tree = Tree.restore(snapshot.tree);
      this.populated = snapshot.populated;
      this.recentExpanders.splice(0, this.recentExpanders.length, ...snapshot.recentExpanders);
      this.alteration.restore(snapshot);
      for (const [model, stats] of Object.entries(snapshot.perModel)) {
        if (this.perModel[model]) this.perModel[model] = { ...stats };
      }
      for (const name of STREAMS) this.rng[name].load(snapshot.rng[name]);
      for (const [name, state] of Object.entries(snapshot.proposers)) this.proposers.get(name)?.restore?.(state);
    }
    const reconciled = reconcile(this.tree, snapshot, committed, this.options.defaultModel);
    this.batches.resume(snapshot?.rounds ?? 0, reconciled);
    return reconciled.added;
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
    const outcome = await this.space.apply(traceOf(node), proposal.transformations, this.rng.apply.nextUint32());
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
      random: () => this.rng.propose.next(),
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
    await this.alteration.review(this.tree, batch, scores);
  }

  private async predict(traces: string[]): Promise<number[]> {
    const t0 = this.clock();
    let scores: number[];
    try {
      scores = await this.space.predict(traces);
    } finally {
      this.predictMs += this.clock() - t0;
    }
    if (scores.length !== traces.length) {
      throw new Error(`predict returned ${scores.length} scores for ${traces.length} traces`);
    }
    // A cost model may return NaN for a trace it cannot featurise: no evidence either way.
    return scores.map((score) => (Number.isFinite(score) ? score : 0));
  }

  private result(stopReason: StopReason, startMs: number): SearchResult {
    const totalSec = (this.clock() - startMs) / 1000;
    const predictSec = this.predictMs / 1000;
    const measureSec = this.batches.measureMs / 1000;
    return {
      stopReason,
      trialsUsed: this.budget.trialsUsed,
      rounds: this.batches.rounds,
      best: this.batches.bestTrial(),
      timings: { searchSec: Math.max(0, totalSec - predictSec - measureSec), predictSec, measureSec, totalSec },
      nodes: this.tree.size,
      measurements: this.batches.measurements,
      perModel: this.perModel,
      escalations: { ...this.alteration.escalations },
    };
  }
}
