// The LLM adapter's public API: models.json, the model pool, and the proposers that put the
// pool's models into the search core. The CLI imports from here.
export { ChatModel, type ChatMessage, type ChatModelOptions, type Completion } from './client';
export { ResponseCache } from './cache';
export {
  ApiKeys,
  largestModel,
  loadModelsConfig,
  MODELS_DEFAULTS,
  modelSizes,
  parseModelsConfig,
  type ModelConfig,
  type ModelsConfig,
} from './config';
export { ConfigError, LlmCallError, LlmConfigError, scrub, type LlmErrorKind } from './errors';
export { emptyStats, hitRate, type LlmEvent, type LlmModelStats, type LlmPurpose } from './events';
export {
  extractJsonObject,
  matchModel,
  matchMutator,
  parseAnswer,
  PARSE_LIMITS,
  type ParsedAnswer,
  type ParseInput,
  type ParseLimits,
} from './parse';
export { estimateTokens, ModelPool, type BudgetSwitch, type LlmSummary, type ModelPoolOptions } from './pool';
export { buildCorrectionPrompt, buildProposalPrompt, SYSTEM_INSTRUCTIONS, type ModelLine, type Prompt, type PromptInput } from './prompt';
export { LlmProposer, type LlmProposerOptions } from './proposer';
export { backoffMs, BACKOFF_DEFAULTS, classifyFailure, type BackoffOptions, type FailureInfo } from './retry';
export { llmSearchWiring, openModelPool, type LlmSearchWiring } from './setup';
