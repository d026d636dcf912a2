// What a usable answer may hold on one turn: the node's mutators, the directed edits that are
// valid on its decisions, and the models that may act next. A model that can be held to it (a
// local model sampling under a grammar) answers nothing else; remote models read the same in
// the prompt and are checked by the parser afterwards.
import { editsFor, type ProposalContext } from '../../search';

export interface AnswerConstraints {
  /** Mutator names, as the space spells them. */
  mutators: string[];
  /** Per decision (instruction index), the values a set_decision may give it. */
  edits: Array<{ instIndex: number; values: unknown[] }>;
  /** Names next_model may take. */
  models: string[];
  /** Most transformations in one answer. */
  maxTransformations: number;
}

export interface ConstraintLimits {
  maxTransformations: number;
  /** Decisions offered for directed edits. */
  maxDecisions: number;
  /** Values offered per decision. */
  maxValuesPerDecision: number;
}

/** Small enough that a 135M model picks rather than rambles, and the grammar stays quick. */
export const CONSTRAINT_LIMITS: ConstraintLimits = { maxTransformations: 3, maxDecisions: 8, maxValuesPerDecision: 8 };

/** `count` items spread evenly over `items`, first and last included. */
function spread<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  if (count <= 1) return items.slice(0, count);
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(items[Math.round((i * (items.length - 1)) / (count - 1))]);
  return out;
}

/**
 * The constraints for a turn on ctx.node. Directed edits are the valid one-step changes of each
 * decision (another tile factorisation, another categorical candidate), categorical decisions
 * first since they have few; no randomness is drawn, so the search's streams are untouched.
 */
export function answerConstraints(
  ctx: Pick<ProposalContext, 'node' | 'mutators'>,
  models: readonly string[],
  limits: Partial<ConstraintLimits> = {},
): AnswerConstraints {
  const { maxTransformations, maxDecisions, maxValuesPerDecision } = { ...CONSTRAINT_LIMITS, ...limits };
  const editable = ctx.node.decisions
    .map((decision) => {
      const seen = new Set<string>();
      const values: unknown[] = [];
      for (const edit of editsFor(decision)) {
        if (edit.kind !== 'setDecision') continue;
        const key = JSON.stringify(edit.value);
        if (!seen.has(key)) {
          seen.add(key);
          values.push(edit.value);
        }
      }
      return { instIndex: decision.instIndex, categorical: decision.kind === 'SampleCategorical', values };
    })
    .filter((d) => d.values.length > 0);
  const ordered = [...editable.filter((d) => d.categorical), ...editable.filter((d) => !d.categorical)];
  return {
    mutators: ctx.mutators.map((m) => m.name),
    edits: ordered
      .slice(0, maxDecisions)
      .sort((a, b) => a.instIndex - b.instIndex)
      .map((d) => ({ instIndex: d.instIndex, values: spread(d.values, maxValuesPerDecision) })),
    models: [...models],
    maxTransformations,
  };
}
