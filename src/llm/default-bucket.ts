// The bucket `colt tune` uses when no models file is given: the built-in proposer and
// SmolLM2-135M-Instruct, run in-process from the GGUF file scripts/setup extracts into models/.
// Cheap first: the built-in proposer acts on the initial population and the model-aware UCT term
// favours its nodes; after every second consecutive regression the LLM, the largest member, is
// asked for a better step (course alteration), and the LLM may hand a node to either member.
import fs from 'node:fs';
import path from 'node:path';

import { Code, ColtError, hasCode } from '../errors';
import { parseModelsConfig, type ModelsConfig } from './config';
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
  return parseModelsConfig(
    {
      models: [
        { name: DEFAULT_BUCKET.builtinName, builtin: true },
        {
          name: BUNDLED_MODEL.name,
          gguf,
          params: BUNDLED_MODEL.params,
          contextTokens: DEFAULT_BUCKET.contextTokens,
          maxOutputTokens: DEFAULT_BUCKET.maxOutputTokens,
          timeoutMs: DEFAULT_BUCKET.timeoutMs,
        },
      ],
      llmBudget,
      lambda: DEFAULT_BUCKET.lambda,
      firstModel: DEFAULT_BUCKET.builtinName,
    },
    'the default models',
  );
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
