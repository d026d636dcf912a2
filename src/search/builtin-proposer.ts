// The proposer that needs no LLM: MetaSchedule's mutators, drawn with their default
// probabilities re-weighted by how often each one has produced a child the cost model liked
// better than its parent, plus an occasional directed edit of a tile or categorical decision.
import { weightedIndex } from './rng';
import { randomDirectedEdit } from './directed-edit';
import type { MutatorInfo, Proposal, ProposalContext, Proposer, Transformation } from './types';

export interface BuiltinProposerOptions {
  /** Probability of a directed edit instead of mutators. */
  directedShare?: number;
  /** Probability of chaining a second mutator after the first. */
  pairShare?: number;
}

export const BUILTIN_PROPOSER_DEFAULTS = { directedShare: 0.15, pairShare: 0.2 } as const;

interface MutatorStats {
  tries: number;
  successes: number;
}

export class BuiltinProposer implements Proposer {
  readonly name = 'builtin';
  private readonly directedShare: number;
  private readonly pairShare: number;
  private readonly stats = new Map<string, MutatorStats>();

  constructor(options: BuiltinProposerOptions = {}) {
    this.directedShare = share(options.directedShare ?? BUILTIN_PROPOSER_DEFAULTS.directedShare, 'directedShare');
    this.pairShare = share(options.pairShare ?? BUILTIN_PROPOSER_DEFAULTS.pairShare, 'pairShare');
  }

  async propose(ctx: ProposalContext): Promise<Proposal> {
    if (ctx.random() < this.directedShare) {
      const edit = randomDirectedEdit(ctx.node.decisions, ctx.random);
      if (edit) return { transformations: [edit] };
    }
    const weights = this.weights(ctx.mutators);
    const first = weightedIndex(weights, ctx.random());
    if (first < 0) {
      // No usable mutator: a directed edit is the only move left. Without one either, the
      // search counts the empty proposal as a failed expansion.
      const edit = randomDirectedEdit(ctx.node.decisions, ctx.random);
      return { transformations: edit ? [edit] : [] };
    }
    const transformations: Transformation[] = [{ kind: 'mutator', name: ctx.mutators[first].name }];
    if (ctx.random() < this.pairShare) {
      // Repeats allowed: two tile mutations in a row are a longer jump, not a wasted one.
      const second = weightedIndex(weights, ctx.random());
      transformations.push({ kind: 'mutator', name: ctx.mutators[second].name });
    }
    return { transformations };
  }

  feedback(proposal: Proposal, improved: boolean): void {
    // A mutator used twice in one proposal is one try: the outcome belongs to the proposal.
    const names = new Set<string>();
    for (const t of proposal.transformations) if (t.kind === 'mutator') names.add(t.name);
    for (const name of names) {
      const s = this.stats.get(name) ?? { tries: 0, successes: 0 };
      s.tries += 1;
      if (improved) s.successes += 1;
      this.stats.set(name, s);
    }
  }

  snapshot(): Record<string, MutatorStats> {
    return Object.fromEntries([...this.stats].map(([name, s]) => [name, { ...s }]));
  }

  restore(state: unknown): void {
    if (typeof state !== 'object' || state === null) return;
    this.stats.clear();
    for (const [name, s] of Object.entries(state as Record<string, Partial<MutatorStats>>)) {
      const tries = Number(s?.tries);
      const successes = Number(s?.successes);
      if (Number.isInteger(tries) && Number.isInteger(successes) && tries >= 0 && successes >= 0) {
        this.stats.set(name, { tries, successes });
      }
    }
  }

  /**
   * Sampling weights, one per mutator, summing to 1 (all 0 when no mutator has a positive
   * probability): the default probability times the Laplace-smoothed success rate
   * (successes + 1) / (tries + 2), so an untried mutator keeps its default share.
   */
  weights(mutators: readonly MutatorInfo[]): number[] {
    const raw = mutators.map((m) => {
      const s = this.stats.get(m.name) ?? { tries: 0, successes: 0 };
      const p = Number.isFinite(m.probability) && m.probability > 0 ? m.probability : 0;
      return p * ((s.successes + 1) / (s.tries + 2));
    });
    const total = raw.reduce((a, b) => a + b, 0);
    return total > 0 ? raw.map((w) => w / total) : raw;
  }
}

function share(value: number, name: string): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${value}`);
  return value;
}
