// models.json: the bucket of models a COLT run may call (OpenAI-compatible endpoints, GGUF files
// run in-process, and the built-in proposer as a member of its own), and the knobs of the
// collaboration (budgets, λ, c, course alteration). One zod schema; `parseModelsConfig` is pure
// and reports every problem at once by dot path; `loadModelsConfig` does the file I/O; API keys
// come from the environment at start-up and live only inside an ApiKeys.
import path from 'node:path';
import { inspect } from 'node:util';
import { z } from 'zod';

import { jsonErrorWhere, readSmallTextFile } from '../config/json';
import { Code, ColtError } from '../errors';
import { SEARCH_DEFAULTS } from '../search';

/** Defaults of a model entry and of the collaboration. */
export const MODELS_DEFAULTS = {
  contextTokens: 8192,
  maxOutputTokens: 512,
  timeoutMs: 30_000,
  maxRetries: 2,
  maxTokensParam: 'max_tokens',
  lambda: 0,
  explorationC: SEARCH_DEFAULTS.explorationC,
  sizeBy: 'params',
  courseAlteration: { streak: 2, enabled: true },
  /** Nominal size of a built-in member: below any LLM's, so that phi favours it. */
  builtinParams: 1,
  builtinPricePerMTok: 1e-6,
} as const;

/** A message that says "is required" when the value is missing, else `text`. */
function expected(text: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : text);
}

function positiveNumber() {
  const e = expected('expected a positive number');
  return z.number({ error: e }).positive({ error: e }).finite({ error: e });
}

function nonNegativeNumber() {
  const e = expected('expected a number >= 0');
  return z.number({ error: e }).min(0, { error: e }).finite({ error: e });
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  const e = expected(max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}` : `expected an integer in [${min}, ${max}]`);
  return z.number({ error: e }).int({ error: e }).min(min, { error: e }).max(max, { error: e });
}

const httpUrl = z
  .string({ error: expected('expected an http(s) URL') })
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { error: 'expected an http(s) URL, e.g. http://127.0.0.1:8080/v1' },
  );

const priceSchema = z.strictObject(
  {
    inputPerMTok: nonNegativeNumber(),
    outputPerMTok: nonNegativeNumber(),
  },
  { error: expected('expected an object { inputPerMTok, outputPerMTok } in USD per million tokens') },
);

const modelEntrySchema = z.strictObject(
  {
    name: z
      .string({ error: expected('expected a non-empty string') })
      .trim()
      .min(1, { error: 'expected a non-empty string' })
      .max(100, { error: 'expected at most 100 characters' }),
    /** An OpenAI-compatible endpoint: OpenAI, vLLM, Ollama, llama.cpp server... */
    baseURL: httpUrl.optional(),
    /** The model id the endpoint knows; default: name. */
    model: z.string({ error: expected('expected a non-empty string') }).min(1, { error: 'expected a non-empty string' }).optional(),
    /**
     * Plain http to a host other than this one, with apiKeyEnv: the key would cross the network
     * unencrypted, so it takes this to say so.
     */
    insecureHttp: z.boolean({ error: 'expected true or false' }).optional(),
    /** The environment variable holding the API key; the key itself never goes in the file. */
    apiKeyEnv: z
      .string({ error: expected('expected an environment variable name') })
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name like OPENAI_API_KEY' })
      .optional(),
    /** Parameter count: what the model-aware UCT term compares (unless sizeBy is price). */
    params: positiveNumber(),
    price: priceSchema.optional(),
    contextTokens: integer(256).default(MODELS_DEFAULTS.contextTokens),
    maxOutputTokens: integer(16).default(MODELS_DEFAULTS.maxOutputTokens),
    timeoutMs: integer(1).default(MODELS_DEFAULTS.timeoutMs),
    maxRetries: integer(0, 10).default(MODELS_DEFAULTS.maxRetries),
    /** Sent only when set: some models accept no temperature but their default. */
    temperature: z
      .number({ error: expected('expected a number in [0, 2]') })
      .min(0, { error: 'expected a number in [0, 2]' })
      .max(2, { error: 'expected a number in [0, 2]' })
      .optional(),
    /** OpenAI's newer models want max_completion_tokens; most local servers max_tokens. */
    maxTokensParam: z
      .enum(['max_tokens', 'max_completion_tokens'], { error: 'expected "max_tokens" or "max_completion_tokens"' })
      .default(MODELS_DEFAULTS.maxTokensParam),
    /**
     * A GGUF model file run in-process by node-llama-cpp, instead of an endpoint. A relative path
     * is relative to the folder of the models file.
     */
    gguf: z.string({ error: expected('expected the path of a .gguf file') }).trim().min(1, { error: 'expected the path of a .gguf file' }).optional(),
    /** CPU threads of a gguf model; default: half the cores, at least 1 and at most 4. */
    threads: integer(1, 256).optional(),
    /** The built-in proposer as a member of the bucket: no LLM and no calls; params defaults to 1. */
    builtin: z.literal(true, { error: 'expected true (or leave it out)' }).optional(),
  },
  { error: expected('expected an object') },
);

/** A built-in member needs no size of its own: it is the smallest. */
const modelSchema = z.preprocess((raw) => {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const entry = raw as Record<string, unknown>;
  return entry.builtin === true && entry.params === undefined ? { ...entry, params: MODELS_DEFAULTS.builtinParams } : raw;
}, modelEntrySchema);

const courseAlterationSchema = z.strictObject(
  {
    streak: integer(1).default(MODELS_DEFAULTS.courseAlteration.streak),
    enabled: z.boolean({ error: 'expected true or false' }).default(MODELS_DEFAULTS.courseAlteration.enabled),
  },
  { error: 'expected an object { streak, enabled }' },
);

const modelsConfigSchema = z
  .strictObject(
    {
      models: z
        .array(modelSchema, { error: expected('expected a list of models') })
        .min(1, { error: 'expected at least one model' }),
      /** LLM calls for the whole run, all models together; cached answers are free. */
      llmBudget: integer(0).optional(),
      /** USD for the whole run, at the configured prices. */
      moneyBudget: nonNegativeNumber().optional(),
      lambda: z
        .number({ error: 'expected a number in [0, 1]' })
        .min(0, { error: 'expected a number in [0, 1]' })
        .max(1, { error: 'expected a number in [0, 1]' })
        .default(MODELS_DEFAULTS.lambda),
      explorationC: nonNegativeNumber().default(MODELS_DEFAULTS.explorationC),
      sizeBy: z.enum(['params', 'price'], { error: 'expected "params" or "price"' }).default(MODELS_DEFAULTS.sizeBy),
      courseAlteration: courseAlterationSchema.default({ ...MODELS_DEFAULTS.courseAlteration }),
      /** The model that acts on the initial population; default: the largest. */
      firstModel: z.string({ error: 'expected a model name' }).optional(),
    },
    { error: 'expected a JSON object with a "models" list' },
  )
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.models.forEach((m, i) => {
      const first = seen.get(m.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['models', i, 'name'], message: `duplicate name "${m.name}" (also models.${first})` });
      } else {
        seen.set(m.name, i);
      }
      const at = (key: string) => ['models', i, key];
      if (m.builtin) {
        for (const key of ['baseURL', 'apiKeyEnv', 'model', 'gguf', 'threads'] as const) {
          if (m[key] !== undefined) ctx.addIssue({ code: 'custom', path: at(key), message: `a built-in member takes no ${key}` });
        }
        if (config.models.findIndex((other) => other.builtin) < i) {
          ctx.addIssue({ code: 'custom', path: at('builtin'), message: 'only one member may be the built-in proposer' });
        }
        return;
      }
      if (m.gguf !== undefined) {
        for (const key of ['baseURL', 'apiKeyEnv', 'model'] as const) {
          if (m[key] !== undefined) ctx.addIssue({ code: 'custom', path: at(key), message: `a gguf model runs in-process: it takes no ${key}` });
        }
      } else if (m.threads !== undefined) {
        ctx.addIssue({ code: 'custom', path: at('threads'), message: 'only a gguf model runs on local threads' });
      }
      if (m.gguf === undefined && m.baseURL === undefined && m.apiKeyEnv === undefined) {
        // Without a baseURL the openai client talks to OpenAI itself, which needs a key.
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'baseURL'],
          message: "is required unless apiKeyEnv is set (then OpenAI's own endpoint is used): e.g. http://127.0.0.1:8080/v1",
        });
      }
      if (m.apiKeyEnv !== undefined && m.baseURL !== undefined && !m.insecureHttp) {
        const exposed = plainHttpHost(m.baseURL);
        if (exposed !== undefined) {
          ctx.addIssue({ code: 'custom', path: at('baseURL'), message: insecureMessage(exposed, m.apiKeyEnv) });
        }
      }
      if (m.maxOutputTokens >= m.contextTokens) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'maxOutputTokens'],
          message: `must be below contextTokens (${m.contextTokens})`,
        });
      }
      if (config.sizeBy === 'price' && !(m.price && m.price.inputPerMTok + m.price.outputPerMTok > 0)) {
        ctx.addIssue({ code: 'custom', path: ['models', i, 'price'], message: 'sizeBy is "price": expected a price above 0' });
      }
    });
    if (config.firstModel !== undefined && !seen.has(config.firstModel)) {
      ctx.addIssue({ code: 'custom', path: ['firstModel'], message: `"${config.firstModel}" is not among the models` });
    }
  });

/** Hosts a key may reach over plain http: this machine's loopback. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The host of a plain-http URL that leaves this machine; undefined for https and loopback. */
export function plainHttpHost(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined; // the URL's own check reports it
  }
  return u.protocol === 'http:' && !isLoopbackHost(u.hostname) ? u.hostname : undefined;
}

function insecureMessage(host: string, variable: string): string {
  return (
    `plain http to ${host} would send the key in $${variable} unencrypted: ` +
    'use https or a loopback address (127.0.0.1, ::1, localhost), or set "insecureHttp": true'
  );
}

type ParsedConfig = z.output<typeof modelsConfigSchema>;

/** One model of the pool, defaults filled in. */
export type ModelConfig = Omit<ParsedConfig['models'][number], 'model'> & {
  /** Undefined: the openai client's default (OpenAI, or $OPENAI_BASE_URL). */
  baseURL?: string;
  model: string;
};

/** A checked models.json. */
export type ModelsConfig = Omit<ParsedConfig, 'models'> & { models: ModelConfig[] };

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Every problem of a failed zod parse, as `dot.path: message`. */
function formatIssues(error: z.ZodError): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...issue.path, key])}: unknown key`);
    } else {
      lines.push(`${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return lines;
}

/** How a member of the bucket answers: an endpoint, a GGUF file in-process, or the built-in proposer. */
export type ModelKind = 'remote' | 'local' | 'builtin';

export function modelKind(m: Pick<ModelConfig, 'gguf' | 'builtin'>): ModelKind {
  return m.builtin ? 'builtin' : m.gguf !== undefined ? 'local' : 'remote';
}

/**
 * Checks a parsed models.json; throws a ColtError (InvalidArgument) listing every problem by dot
 * path. A relative gguf path is resolved against baseDir when one is given.
 */
export function parseModelsConfig(json: unknown, source = 'models config', baseDir?: string): ModelsConfig {
  const result = modelsConfigSchema.safeParse(json);
  if (!result.success) {
    const issues = formatIssues(result.error);
    throw new ColtError(Code.InvalidArgument, `invalid ${source}: ${issues.join('; ')}`, { details: { issues } });
  }
  const config = result.data;
  return {
    ...config,
    models: config.models.map((m) => ({
      ...m,
      // The remote id defaults to the name.
      model: m.model ?? m.name,
      ...(m.gguf !== undefined && baseDir !== undefined ? { gguf: path.resolve(baseDir, m.gguf) } : {}),
    })),
  };
}

/** A models.json is a few KiB; anything past this is refused unread (say /dev/zero). */
export const MAX_MODELS_FILE_BYTES = 1024 * 1024;

/**
 * Reads and checks a models.json file; every failure is a one-line ColtError (InvalidArgument).
 * gguf paths are relative to its folder.
 */
export function loadModelsConfig(file: string): ModelsConfig {
  let read: ReturnType<typeof readSmallTextFile>;
  try {
    read = readSmallTextFile(file, MAX_MODELS_FILE_BYTES);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a folder' : (code ?? 'unreadable');
    throw new ColtError(Code.InvalidArgument, `cannot read models file ${file}: ${why}`);
  }
  if ('tooLarge' in read) {
    throw new ColtError(Code.InvalidArgument, `models file ${file} is larger than ${MAX_MODELS_FILE_BYTES / 1024 / 1024} MiB: not a models file`);
  }
  const { text } = read;
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch (err) {
    // Never the message itself: V8 quotes the text around the fault, and the file may be anyone's.
    throw new ColtError(Code.InvalidArgument, `models file ${file} is not valid JSON${jsonErrorWhere(err, text)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || !('models' in json)) {
    // Not a models file at all: its keys are not ours to list.
    throw new ColtError(Code.InvalidArgument, `models file ${file} is not a models file: expected a JSON object with a "models" list`);
  }
  return parseModelsConfig(json, file, path.dirname(path.resolve(file)));
}

/**
 * API keys by model name, read from the environment once at start-up. The keys sit in a private
 * field, and the object prints and serialises as a placeholder, so that no log line, event,
 * summary or error can carry one by accident.
 */
export class ApiKeys {
  readonly #keys: Map<string, string>;

  private constructor(keys: Map<string, string>) {
    this.#keys = keys;
  }

  /** Reads each model's apiKeyEnv; a missing or empty variable is a ColtError (InvalidArgument) naming it. */
  static fromEnv(config: ModelsConfig, env: NodeJS.ProcessEnv = process.env): ApiKeys {
    const keys = new Map<string, string>();
    const missing = new Map<string, string[]>();
    const issues: string[] = [];
    for (const m of config.models) {
      if (m.apiKeyEnv === undefined) continue;
      // No baseURL: the openai client goes to $OPENAI_BASE_URL when set, else to OpenAI (https).
      const fromEnv = m.baseURL === undefined ? env.OPENAI_BASE_URL : undefined;
      const exposed = fromEnv && !m.insecureHttp ? plainHttpHost(fromEnv) : undefined;
      if (exposed !== undefined) issues.push(`$OPENAI_BASE_URL (the endpoint of ${m.name}): ${insecureMessage(exposed, m.apiKeyEnv)}`);
      const value = env[m.apiKeyEnv];
      if (value === undefined || value.trim() === '') {
        missing.set(m.apiKeyEnv, [...(missing.get(m.apiKeyEnv) ?? []), m.name]);
      } else {
        keys.set(m.name, value.trim());
      }
    }
    issues.push(...[...missing].map(([v, models]) => `environment variable ${v} is not set (apiKeyEnv of ${models.join(', ')})`));
    if (issues.length > 0) throw new ColtError(Code.InvalidArgument, issues.join('; '), { details: { issues } });
    return new ApiKeys(keys);
  }

  /** No keys at all: for endpoints that need none. */
  static none(): ApiKeys {
    return new ApiKeys(new Map());
  }

  get(model: string): string | undefined {
    return this.#keys.get(model);
  }

  /** Every key, for scrubbing text that came back from a server. */
  secrets(): string[] {
    return [...new Set(this.#keys.values())];
  }

  toJSON(): string {
    return '[ApiKeys]';
  }

  [inspect.custom](): string {
    return '[ApiKeys]';
  }
}

/**
 * Each model's size for the model-aware UCT term: parameters, or input + output price per MTok.
 * A built-in member costs next to nothing either way.
 */
export function modelSizes(config: ModelsConfig): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const m of config.models) {
    if (config.sizeBy === 'price') {
      sizes[m.name] = m.builtin ? MODELS_DEFAULTS.builtinPricePerMTok : m.price ? m.price.inputPerMTok + m.price.outputPerMTok : m.params;
    } else {
      sizes[m.name] = m.params;
    }
  }
  return sizes;
}

/** The largest model: it labels the initial population and corrects the small ones (ties: the later entry). */
export function largestModel(config: ModelsConfig): string {
  const sizes = modelSizes(config);
  let best = config.models[0].name;
  for (const m of config.models) if (sizes[m.name] >= sizes[best]) best = m.name;
  return best;
}
