// `colt tune` options: one zod schema with every default, and a pure parser that reports all
// bad values at once, by name. Flags arrive from commander as strings.
import { z } from 'zod';

import { BUCKET_NAMES } from '../llm';
import { costModel, integer, LIMITS, MEASURE_DEFAULTS, positiveNumber } from './fields';
import { targetOption, type TargetSpec } from './target';
import { workloadName } from './workload';

/** `--cost-model-file none`: no cost model trained beforehand, not even the bundled one. */
export const NO_COST_MODEL_FILE = 'none';

export const TUNE_DEFAULTS = {
  ...MEASURE_DEFAULTS,
  trials: 64,
  seed: 0,
  rpcPriority: 1,
  maxBridgeRestarts: 2,
} as const;

/** The flag each option comes from, for messages. */
export const TUNE_FLAGS: Record<string, string> = {
  workload: '--workload',
  target: '--target',
  trials: '--trials',
  perIter: '--per-iter',
  workDir: '--work-dir',
  seed: '--seed',
  number: '--number',
  repeat: '--repeat',
  minRepeatMs: '--min-repeat-ms',
  timeout: '--timeout',
  checkResults: '--no-check-results',
  costModel: '--cost-model',
  costModelFile: '--cost-model-file',
  models: '--models',
  bucket: '--bucket',
  llm: '--no-llm',
  llmBudget: '--llm-budget',
  json: '--json',
  rpcTracker: '--rpc-tracker',
  rpcKey: '--rpc-key',
  rpcPriority: '--rpc-priority',
  rpcSessionTimeout: '--rpc-session-timeout',
  resume: '--resume',
  force: '--force',
  tuningRecords: '--tuning-records',
  maxBridgeRestarts: '--max-bridge-restarts',
};

const TRACKER_ADDRESS = /^([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

/** `host:port` of a TVM RPC tracker. */
function trackerAddress() {
  const message = 'must be host:port, e.g. 127.0.0.1:9190';
  return z.string({ error: message }).transform((text, zctx) => {
    const match = TRACKER_ADDRESS.exec(text.trim());
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      zctx.addIssue({ code: 'custom', message: `${message} (got ${JSON.stringify(text)})` });
      return z.NEVER;
    }
    return { host: match[1].replace(/^\[|\]$/g, ''), port };
  });
}

const NUM_CORES = `must be an integer >= 1 and <= ${LIMITS.numCores}`;

const targetObject = z.looseObject({
  kind: z.string().min(1, { error: 'must be a non-empty string' }),
  'num-cores': z.number({ error: NUM_CORES }).int({ error: NUM_CORES }).min(1, { error: NUM_CORES }).max(LIMITS.numCores, { error: NUM_CORES }).optional(),
});

export interface TuneOptionsContext {
  /** This machine's core count: what the `llvm` shorthand means. */
  cores: number;
}

export function tuneOptionsSchema(ctx: TuneOptionsContext) {
  return z.object({
    workload: z
      .string({ error: 'is required: NAME:IDX (e.g. GMM:1) or the path of a TVMScript file' })
      .trim()
      .min(1, { error: 'is required: NAME:IDX (e.g. GMM:1) or the path of a TVMScript file' }),
    target: targetOption(ctx.cores, TUNE_DEFAULTS.target)
      .pipe(targetObject),
    trials: integer(1, LIMITS.trials).default(TUNE_DEFAULTS.trials),
    perIter: integer(1, LIMITS.perIter).default(TUNE_DEFAULTS.perIter),
    workDir: z.string().trim().min(1, { error: 'must not be empty' }).optional(),
    seed: integer(0, LIMITS.seed).default(TUNE_DEFAULTS.seed),
    number: integer(1, LIMITS.number).default(TUNE_DEFAULTS.number),
    repeat: integer(1, LIMITS.repeat).default(TUNE_DEFAULTS.repeat),
    minRepeatMs: integer(0, LIMITS.minRepeatMs).default(TUNE_DEFAULTS.minRepeatMs),
    timeout: positiveNumber(LIMITS.timeout).default(TUNE_DEFAULTS.timeout),
    /** false (--no-check-results): trials are not compared with the untuned build's outputs. */
    checkResults: z.boolean().default(true),
    costModel: costModel(),
    /** A cost model trained beforehand (scripts/cost-model), scoring beside xgb; 'none': none, not even the bundled one. */
    costModelFile: z.string().trim().min(1, { error: 'must name a file scripts/cost-model wrote' }).optional(),
    models: z.string().trim().min(1, { error: 'must name a models.json file' }).optional(),
    /** A bucket by name (src/llm/default-bucket.ts); none: the default, offline. */
    bucket: z.enum(BUCKET_NAMES, { error: `must be one of ${BUCKET_NAMES.join(', ')}` }).optional(),
    /** false (--no-llm): the built-in proposer alone, even when the bundled model is there. */
    llm: z.boolean().default(true),
    /** LLM calls for the run; default: the bundled model's 12, or the models file's llmBudget. */
    llmBudget: integer(0, LIMITS.llmBudget).optional(),
    json: z.boolean().default(false),
    /** Runs go to the devices of this TVM RPC tracker (builds stay here); none: this machine. */
    rpcTracker: trackerAddress().optional(),
    rpcKey: z.string().trim().min(1, { error: 'must not be empty' }).optional(),
    rpcPriority: integer(0, LIMITS.rpcPriority).default(TUNE_DEFAULTS.rpcPriority),
    /** Default: --timeout. */
    rpcSessionTimeout: positiveNumber(LIMITS.rpcSessionTimeout).optional(),
    resume: z.boolean().default(false),
    /** A work dir that holds a run: move that run aside (never deleted) and start afresh. */
    force: z.boolean().default(false),
    tuningRecords: z.string().trim().min(1, { error: 'must name a work dir' }).optional(),
    maxBridgeRestarts: integer(0, LIMITS.maxBridgeRestarts).default(TUNE_DEFAULTS.maxBridgeRestarts),
  }).superRefine((o, zctx) => {
    if (o.force && o.resume) zctx.addIssue({ code: 'custom', path: ['force'], message: 'cannot be combined with --resume' });
    if (o.models !== undefined && !o.llm) zctx.addIssue({ code: 'custom', path: ['llm'], message: 'cannot be combined with --models' });
    if (o.bucket !== undefined && o.models !== undefined) zctx.addIssue({ code: 'custom', path: ['bucket'], message: 'cannot be combined with --models' });
    if (o.bucket !== undefined && !o.llm) zctx.addIssue({ code: 'custom', path: ['llm'], message: 'cannot be combined with --bucket' });
    if (o.rpcTracker && !o.rpcKey) zctx.addIssue({ code: 'custom', path: ['rpcKey'], message: 'is required with --rpc-tracker' });
    if (o.rpcKey && !o.rpcTracker) zctx.addIssue({ code: 'custom', path: ['rpcTracker'], message: 'is required with --rpc-key' });
  });
}

type Parsed = z.output<ReturnType<typeof tuneOptionsSchema>>;

/** Validated `colt tune` options, every default filled in. */
export type TuneOptions = Omit<Parsed, 'workDir' | 'target'> & {
  workDir: string;
  target: TargetSpec;
  /**
   * The target was left to default or given as `llvm`: it stands for this machine's CPU, and the
   * bridge adds LLVM's name for it as mcpu (the JSON dict above stays as the user gave it).
   */
  targetIsHost: boolean;
};

export interface OptionIssue {
  /** Dot path of the offending value, e.g. `trials` or `target.num-cores`. */
  path: string;
  message: string;
}

export type ParseResult = { ok: true; options: TuneOptions } | { ok: false; issues: OptionIssue[] };

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** Checks raw flag values (strings, as commander gives them); pure. */
export function parseTuneOptions(raw: Record<string, unknown>, ctx: TuneOptionsContext): ParseResult {
  const result = tuneOptionsSchema(ctx).safeParse(raw);
  if (!result.success) {
    // One complaint per value: 1e300 is too large, not also "not an integer".
    const seen = new Set<string>();
    const issues = result.error.issues.filter((issue) => {
      const key = issue.path.map(String).join('.');
      return !seen.has(key) && Boolean(seen.add(key));
    });
    return {
      ok: false,
      issues: issues.map((issue) => {
        const given = valueAt(raw, issue.path);
        const shown = typeof given === 'string' || typeof given === 'number' ? ` (got ${JSON.stringify(given)})` : '';
        // A target that is not JSON already quotes itself.
        const got = issue.code === 'custom' ? '' : shown;
        return { path: issue.path.map(String).join('.'), message: `${issue.message}${got}` };
      }),
    };
  }
  const { workDir, target, ...rest } = result.data;
  const targetText = typeof raw.target === 'string' ? raw.target.trim() : undefined;
  return {
    ok: true,
    options: {
      ...rest,
      target: target as TargetSpec,
      targetIsHost: targetText === undefined || targetText === 'llvm',
      workDir: workDir ?? `runs/${workloadName(rest.workload)}`,
    },
  };
}

/** `--trials: must be an integer >= 1 (got "0")`; nested paths keep their tail. */
export function formatIssue(issue: OptionIssue): string {
  const [head, ...tail] = issue.path.split('.');
  const flag = TUNE_FLAGS[head] ?? head;
  return tail.length > 0 ? `${flag}: ${tail.join('.')} ${issue.message}` : `${flag}: ${issue.message}`;
}
