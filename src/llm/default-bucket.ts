// The buckets `colt tune --bucket NAME` names, all offline, all run in-process from GGUF files:
// `offline` (the default): the built-in proposer and SmolLM2-135M-Instruct, which scripts/setup
// extracts into models/; `offline-3`: those two and Qwen2.5-Coder-1.5B-Instruct as the largest,
// which `colt models fetch qwen2.5-coder-1.5b` puts there.
// Cheap first: the built-in proposer acts on the initial population and the model-aware UCT term
// favours its nodes; after every second consecutive regression the largest member is asked for a
// better step (course alteration), and an LLM may hand a node to any member.
import fs from 'node:fs';
import path from 'node:path';

import { Code, ColtError, hasCode } from '../errors';
import { parseModelsConfig, type ModelsConfig } from './config';
import { checkModelFile, modelsDir, QWEN_CODER_1_5B } from './fetch';
import type { ModelPool, ModelPoolOptions } from './pool';
import { openPool } from './setup';

export const BUNDLED_MODEL = {
  name: 'smollm2-135m',
  /** Relative to the repository root, where scripts/setup puts it. */
  file: path.join('models', 'smollm2-135m-instruct.q4_1.gguf'),
  params: 1.35e8,
} as const;

/** The bundled model's file: in $COLT_MODELS_DIR if set, else in the repository's models/. */
export function bundledModelPath(repoRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.COLT_MODELS_DIR?.trim();
  return dir ? path.resolve(dir, path.basename(BUNDLED_MODEL.file)) : path.join(repoRoot, BUNDLED_MODEL.file);
}

export const DEFAULT_BUCKET = {
  builtinName: 'builtin',
  /** LLM calls per run: at ~1 s a call on 2 cores, a small share of a tuning run. */
  llmBudget: 12,
  lambda: 0.3,
  /**
   * Small prompts, quick to read: the traces and ancestors go, leaving ~1,000 tokens (the
   * instructions, the models, the mutators and the node's decisions); a 135M model would make
   * little of the rest anyway.
   */
  contextTokens: 1536,
  /** Enough for the longest answer the grammar allows (three directed edits). */
  maxOutputTokens: 128,
  timeoutMs: 60_000,
} as const;

/** The default bucket over the GGUF file at `gguf`. */
export function defaultBucketConfig(gguf: string, llmBudget: number = DEFAULT_BUCKET.llmBudget): ModelsConfig {
  return parseModelsConfig(bucketDocument('offline', { smollm: gguf, qwen: '' }, llmBudget), 'the default models');
}

/**
 * Opens the default bucket over the GGUF file at `file`, the model loaded. The model missing or
 * unloadable is a one-line ColtError (InvalidArgument) that says what to do; `shown` is how it
 * names the file.
 */
export async function openDefaultBucket(
  file: string,
  options: ModelPoolOptions = {},
  overrides: { llmBudget?: number; shown?: string } = {},
): Promise<ModelPool> {
  const shown = overrides.shown ?? file;
  const remedy = 'run `bash scripts/setup`, or pass --no-llm';
  if (!fs.existsSync(file)) throw new ColtError(Code.InvalidArgument, `the bundled model ${shown} is missing: ${remedy}`);
  const config = defaultBucketConfig(file, overrides.llmBudget);
  try {
    return await openPool(config, {}, options);
  } catch (err) {
    if (!hasCode(err, Code.InvalidArgument)) throw err;
    const reason = err.details.issues?.[0] ?? err.message;
    throw new ColtError(Code.InvalidArgument, `the bundled model ${shown} cannot be used (${reason}): ${remedy}`, { cause: err });
  }
}

/** The bucket names `--bucket` takes; the first is the default. */
export const BUCKET_NAMES = ['offline', 'offline-3'] as const;
export type BucketName = (typeof BUCKET_NAMES)[number];
export const DEFAULT_BUCKET_NAME: BucketName = 'offline';

export const QWEN_MEMBER = {
  name: 'qwen2.5-coder-1.5b',
  params: 1.5e9,
  /** The same small prompts as SmolLM's: ~1,000 tokens read at 50-60 tokens/s on one busy core. */
  contextTokens: DEFAULT_BUCKET.contextTokens,
  maxOutputTokens: DEFAULT_BUCKET.maxOutputTokens,
  /**
   * A call reads ~1,000 tokens (~20 s) and writes up to 128 (4-6 tokens/s, ~25 s) on one core of
   * a busy 2-core machine: 3 minutes is a hang, not a slow answer.
   */
  timeoutMs: 180_000,
} as const;

/** What to do when offline-3's largest model is not there. */
const FETCH_REMEDY = `run \`colt models fetch ${QWEN_CODER_1_5B.id}\`, or use --bucket offline`;

/** Qwen2.5-Coder-1.5B's models.json entry over the GGUF file at `gguf`. */
function qwenEntry(gguf: string): Record<string, unknown> {
  const { name, params, contextTokens, maxOutputTokens, timeoutMs } = QWEN_MEMBER;
  return { name, gguf, params, contextTokens, maxOutputTokens, timeoutMs };
}

/** A bucket's models as a models.json document, over the GGUF files given. */
export function bucketDocument(name: BucketName, files: { smollm: string; qwen: string }, llmBudget: number = DEFAULT_BUCKET.llmBudget): Record<string, unknown> {
  const smollm = {
    name: BUNDLED_MODEL.name,
    gguf: files.smollm,
    params: BUNDLED_MODEL.params,
    contextTokens: DEFAULT_BUCKET.contextTokens,
    maxOutputTokens: DEFAULT_BUCKET.maxOutputTokens,
    timeoutMs: DEFAULT_BUCKET.timeoutMs,
  };
  return {
    models: [{ name: DEFAULT_BUCKET.builtinName, builtin: true }, smollm, ...(name === 'offline-3' ? [qwenEntry(files.qwen)] : [])],
    llmBudget,
    lambda: DEFAULT_BUCKET.lambda,
    // offline-3: SmolLM2 labels the initial population, so that the small LLM makes the
    // proposals and Qwen corrects it. With the built-in proposer first, its frequent regressions
    // escalated every call of the budget to Qwen: measured on GMM:1 (32 trials), 12 of 12 calls
    // were Qwen corrections, 2 minutes each on the busy machine, and SmolLM2 made none.
    firstModel: name === 'offline-3' ? BUNDLED_MODEL.name : DEFAULT_BUCKET.builtinName,
  };
}

/**
 * Qwen2.5-Coder-1.5B alone, as a models.json document: the single-largest-LLM baseline the
 * buckets are measured against (scripts/bench-llm), with the offline buckets' LLM budget.
 */
export function largestAloneDocument(files: { qwen: string }, llmBudget: number = DEFAULT_BUCKET.llmBudget): Record<string, unknown> {
  return { models: [qwenEntry(files.qwen)], llmBudget, lambda: DEFAULT_BUCKET.lambda };
}

/** The models folder's files of every bucket member (each may be missing). */
export function bucketFiles(repoRoot: string, env: NodeJS.ProcessEnv = process.env): { smollm: string; qwen: string } {
  return { smollm: bundledModelPath(repoRoot, env), qwen: path.join(modelsDir(repoRoot, env), QWEN_CODER_1_5B.file) };
}

/** A bucket by name, or a one-line InvalidArgument that lists the names. */
export function bucketName(name: string): BucketName {
  if ((BUCKET_NAMES as readonly string[]).includes(name)) return name as BucketName;
  throw new ColtError(Code.InvalidArgument, `no bucket "${name}": the buckets are ${BUCKET_NAMES.join(', ')}`);
}

/**
 * Opens bucket `name` over the models folder's files, every model loaded. A file missing, partial
 * or not the published one is a one-line ColtError (InvalidArgument) that says how to get it;
 * `shown` says how to name a file in it (e.g. relative to the repository).
 */
export async function openBucket(
  name: BucketName,
  files: { smollm: string; qwen: string },
  options: ModelPoolOptions = {},
  overrides: { llmBudget?: number; shown?: (file: string) => string } = {},
): Promise<ModelPool> {
  const shown = overrides.shown ?? ((file: string) => file);
  if (name === 'offline') return openDefaultBucket(files.smollm, options, { llmBudget: overrides.llmBudget, shown: shown(files.smollm) });
  const remedy = 'run `bash scripts/setup`, or pass --no-llm';
  if (!fs.existsSync(files.smollm)) throw new ColtError(Code.InvalidArgument, `the bundled model ${shown(files.smollm)} is missing: ${remedy}`);
  const state = await checkModelFile(QWEN_CODER_1_5B, path.dirname(files.qwen));
  if (!state.ok) {
    throw new ColtError(Code.InvalidArgument, `bucket ${name} needs ${shown(files.qwen)}, which ${state.problem}: ${FETCH_REMEDY}`);
  }
  const config = parseModelsConfig(bucketDocument(name, files, overrides.llmBudget), `bucket ${name}`);
  try {
    return await openPool(config, {}, options);
  } catch (err) {
    if (!hasCode(err, Code.InvalidArgument)) throw err;
    const reason = err.details.issues?.[0] ?? err.message;
    throw new ColtError(Code.InvalidArgument, `bucket ${name} cannot be opened (${reason})`, { cause: err });
  }
}
