// One model of the pool as a Proposer: it builds the prompt for its turn, asks through the pool,
// and parses the joint action (transformations, next model). When the call fails or the answer
// holds nothing usable, the built-in proposer chooses the transformations (a parsed next model
// still counts); once the shared LLM budget is spent, the built-in proposer takes every turn.
import type { CorrectionRequest, Proposal, ProposalContext, Proposer } from '../search';
import { isLlmCallError } from './call-error';
import { hitRate, type LlmPurpose } from './events';
import type { ChatMessage } from './language-model';
import type { ModelPool } from './pool';
import { answerConstraints, CONSTRAINT_LIMITS } from './prompting/constraints';
import { PARSE_LIMITS, parseAnswer, type ParseLimits } from './prompting/parse';
import { buildCorrectionPrompt, buildProposalPrompt, type PromptInput } from './prompting/prompt';

export interface LlmProposerOptions {
  /** The built-in proposer, shared by every model: it learns from all their outcomes. */
  fallback: Proposer;
  parseLimits?: Partial<ParseLimits>;
}

export class LlmProposer implements Proposer {
  readonly name: string;
  private readonly fallback: Proposer;
  private readonly parseLimits?: Partial<ParseLimits>;
  /**
   * Proposals made on an LLM turn (not after the budget ran out), each with whether its
   * transformations were the model's own. Every such turn counts towards the hit rate's
   * denominator; only the model's own work can be a hit.
   */
  private readonly llmTurns = new WeakMap<Proposal, boolean>();

  constructor(
    private readonly pool: ModelPool,
    model: string,
    options: LlmProposerOptions,
  ) {
    if (!pool.names.includes(model)) throw new RangeError(`no model "${model}" in the pool`);
    this.name = model;
    this.fallback = options.fallback;
    this.parseLimits = options.parseLimits;
  }

  /** Its prompts show TVMScript; once the LLM budget is spent the built-in proposer acts, without. */
  wantsTvmScript(): boolean {
    return this.pool.budgetSwitch() === undefined;
  }

  async propose(ctx: ProposalContext): Promise<Proposal> {
    if (this.pool.llmOff(ctx.trialsUsed)) return this.fallback.propose(ctx);
    const prompt = buildProposalPrompt(this.promptInput(ctx));
    const answer = await this.ask(prompt.messages, 'propose', ctx);
    if (answer === undefined) {
      this.pool.noteFallback(this.name);
      return this.llmTurn(await this.fallback.propose(ctx), false);
    }
    const { transformations, nextModel } = answer;
    if (transformations.length > 0) return this.llmTurn({ transformations, ...(nextModel ? { nextModel } : {}) }, true);
    const random = await this.fallback.propose(ctx);
    return this.llmTurn({ transformations: random.transformations, ...(nextModel ? { nextModel } : {}) }, false);
  }

  /**
   * Course alteration. undefined (nothing asked) once the budget is spent; an empty proposal
   * when the call failed or the answer held nothing usable, so the search reports the attempt.
   */
  async correct(ctx: ProposalContext, request: CorrectionRequest): Promise<Proposal | undefined> {
    if (this.pool.llmOff(ctx.trialsUsed)) return undefined;
    const prompt = buildCorrectionPrompt({ ...this.promptInput(ctx), request });
    const answer = await this.ask(prompt.messages, 'correct', ctx);
    if (!answer || answer.transformations.length === 0) return this.llmTurn({ transformations: [] }, false);
    return this.llmTurn(
      { transformations: answer.transformations, ...(answer.nextModel ? { nextModel: answer.nextModel } : {}) },
      true,
    );
  }

  feedback(proposal: Proposal, improved: boolean): void {
    const own = this.llmTurns.get(proposal);
    if (own !== undefined) this.pool.noteOutcome(this.name, own && improved);
    // The built-in proposer re-weights its mutators by what worked, whoever chose them.
    this.fallback.feedback?.(proposal, improved);
  }

  /** Asks and parses; undefined when the call failed (the pool has booked it). */
  private async ask(
    messages: ChatMessage[],
    purpose: LlmPurpose,
    ctx: ProposalContext,
  ): Promise<Pick<Proposal, 'transformations' | 'nextModel'> | undefined> {
    const models = this.models(ctx);
    // What a model held to a grammar may answer: fewer steps than the parser would take.
    const maxTransformations = Math.min(this.parseLimits?.maxTransformations ?? PARSE_LIMITS.maxTransformations, CONSTRAINT_LIMITS.maxTransformations);
    const constraints = answerConstraints(ctx, models, { maxTransformations });
    let text: string;
    try {
      text = await this.pool.ask(this.name, messages, purpose, constraints);
    } catch (err) {
      if (isLlmCallError(err)) return undefined;
      throw err;
    }
    const parsed = parseAnswer({ text, mutators: ctx.mutators, decisions: ctx.node.decisions, models, limits: this.parseLimits });
    // An answer that named no usable model hands over to the one with the best record.
    const nextModel = parsed.nextModel ?? (parsed.json ? this.pool.bestHitRateModel() : undefined);
    this.pool.noteAnswer(this.name, purpose, {
      issues: parsed.issues,
      transformations: parsed.transformations.length,
      nextModel,
      fallback: purpose === 'propose' && parsed.transformations.length === 0,
    });
    return { transformations: parsed.transformations, nextModel };
  }

  /** The models this search knows that are in the pool: the ones a turn may go to. */
  private models(ctx: ProposalContext): string[] {
    return ctx.models.filter((m) => this.pool.names.includes(m));
  }

  private promptInput(ctx: ProposalContext): PromptInput {
    const config = this.pool.config.models.find((m) => m.name === this.name);
    if (!config) throw new RangeError(`no model "${this.name}" in the pool`);
    return {
      ctx,
      model: this.name,
      models: this.models(ctx).map((name) => {
        const s = this.pool.stats(name);
        const line = { name, size: s.size, calls: s.calls + s.cacheHits, errors: s.errors, hitRate: hitRate(s) };
        return this.pool.isBuiltin(name) ? { ...line, builtin: true } : line;
      }),
      sizeBy: this.pool.config.sizeBy,
      recentErrors: this.pool.recentErrors(this.name),
      contextTokens: config.contextTokens,
      maxOutputTokens: config.maxOutputTokens,
      countTokens: this.pool.tokenCounter(this.name),
    };
  }

  private llmTurn(proposal: Proposal, own: boolean): Proposal {
    this.llmTurns.set(proposal, own);
    return proposal;
  }
}
