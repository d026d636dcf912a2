// Course alteration: a streak of children that small models made worse than their parents
// hands the latest of them to the largest model for a second opinion, whose schedule takes the
// small child's place unless the cost model scores it lower.
import type { ModelStats, SearchEvent } from './events';
import type { CourseAlterationOptions } from './options';
import type { Rng } from './rng';
import type { SearchSnapshot } from './snapshot';
import { scoreValue, traceOf, type Tree, type TreeNode } from './tree';
import type { ApplyErrorCode, Proposal, ProposalContext, Proposer, Regression, ScheduleSpace } from './types';

/** How many regressions of a streak a correction prompt shows. */
const HISTORY_LENGTH = 4;

/** A child created by `model`'s proposal, once the cost model has scored it. */
export interface ScoredChild {
  child: TreeNode;
  parent: TreeNode;
  model: string;
  proposal: Proposal;
}

/** What a correction needs from the search it steers. */
export interface AlterationDeps {
  space: ScheduleSpace;
  proposers: ReadonlyMap<string, Proposer>;
  perModel: Record<string, ModelStats>;
  /** Draws the seed of each transformation's application. */
  applyRng: Rng;
  /** What `proposer` is told when it acts on node. */
  context(node: TreeNode, proposer: Proposer): Promise<ProposalContext>;
  /** The cost model's scores, sanitised. */
  predict(traces: string[]): Promise<number[]>;
  /** The label a new child gets from `proposal`, made by `actingModel`. */
  labelFor(proposal: Proposal, actingModel: string): string;
  /** Counts `model` among the recent expanders proposers are told about. */
  noteExpander(model: string): void;
  emit(e: SearchEvent): void;
}

export class CourseAlteration {
  /** Consecutive small-model regressions, and the last few of them. */
  streak = 0;
  regressions: Regression[] = [];
  escalations = { asked: 0, replaced: 0 };

  constructor(
    private readonly deps: AlterationDeps,
    private readonly options: Required<CourseAlterationOptions> | undefined,
  ) {}

  restore(snapshot: SearchSnapshot): void {
    this.streak = snapshot.streak;
    this.regressions = snapshot.regressions.map((r) => ({ ...r }));
    this.escalations = { ...snapshot.escalations };
  }

  /**
   * Follows the streak through freshly scored children, in creation order so that it follows
   * the order in which the models acted, and escalates every `streak`-th regression.
   */
  async review(tree: Tree, batch: readonly ScoredChild[], scores: readonly number[]): Promise<void> {
    const alteration = this.options;
    if (!alteration) return;
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
      if (this.streak % alteration.streak === 0) await this.escalate(tree, u, alteration.model, parentScore, scores[i]);
    }
  }

  /**
   * Asks the largest model for a better child of u's parent. Its schedule takes the place of
   * u's child unless the cost model scores it lower.
   */
  private async escalate(
    tree: Tree,
    u: ScoredChild,
    large: string,
    parentScore: number,
    smallScore: number,
  ): Promise<void> {
    const { deps } = this;
    const proposer = deps.proposers.get(large) as Proposer;
    const ctx = await deps.context(u.parent, proposer);
    const history = [...this.regressions];
    const request = { ...history[history.length - 1], streak: this.streak, history };
    const proposal = proposer.correct ? await proposer.correct(ctx, request) : await proposer.propose(ctx);
    if (!proposal) return;

    this.escalations.asked += 1;
    const stats = deps.perModel[large];
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
      deps.emit({ ...base, replaced: false, ...details });
    };
    if (proposal.transformations.length === 0) return fail({ emptyProposal: true });
    const outcome = await deps.space.apply(traceOf(u.parent), proposal.transformations, deps.applyRng.nextUint32());
    if (!outcome.ok) return fail({ code: outcome.code });
    if (tree.hasShash(outcome.candidate.shash)) return fail({ duplicate: true });

    const [largeScore] = await deps.predict([outcome.candidate.traceJson]);
    const improved = largeScore > parentScore;
    if (improved) stats.improved += 1;
    proposer.feedback?.(proposal, improved);
    if (largeScore < smallScore) {
      deps.emit({ ...base, largeScore, replaced: false });
      return;
    }
    const nextModel = deps.labelFor(proposal, large);
    const node = tree.replace(u.child, outcome.candidate, nextModel, large) as TreeNode;
    node.predictedScore = largeScore;
    tree.adjust(node, scoreValue(largeScore) - scoreValue(smallScore));
    this.escalations.replaced += 1;
    deps.noteExpander(large);
    deps.emit({ ...base, largeScore, replaced: true, nodeId: node.id, nextModel });
  }
}
