// The LLM adapter's public API: models.json, the model pool (endpoints, local GGUF models, the
// built-in proposer as a member), the default bucket, and the proposers that put the pool's
// models into the search core. The CLI imports from here.
export { ChatModel, type ChatMessage, type ChatModelOptions, type Completion, type LanguageModel } from './client';
export { ResponseCache } from './cache';
export {
  ApiKeys,
  largestModel,
  loadModelsConfig,
  MODELS_DEFAULTS,
  modelKind,
  modelSizes,
  parseModelsConfig,
  type ModelConfig,
  type ModelKind,
  type ModelsConfig,
} from './config';
export { answerConstraints, CONSTRAINT_LIMITS, type AnswerConstraints, type ConstraintLimits } from './constraints';
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
export { BUNDLED_MODEL, bundledModelPath, DEFAULT_BUCKET, defaultBucketConfig, openDefaultBucket } from './local-bucket';
export { answerGrammar } from './local-grammar';
export { defaultThreads, LocalChatModel, type LocalModelOptions } from './local-model';
export { importNodeLlamaCpp, type NodeLlamaCpp } from './local-runtime';
export { estimateTokens, ModelPool, type BudgetSwitch, type LlmSummary, type ModelPoolOptions, type PoolSnapshot } from './pool';
export { buildCorrectionPrompt, buildProposalPrompt, SYSTEM_INSTRUCTIONS, type ModelLine, type Prompt, type PromptInput } from './prompt';
export { LlmProposer, type LlmProposerOptions } from './proposer';
export { backoffMs, BACKOFF_DEFAULTS, classifyFailure, type BackoffOptions, type FailureInfo } from './retry';
export { llmSearchWiring, openModelPool, openPool, type LlmRunState, type LlmSearchWiring, type LlmStateSnapshot } from './setup';
