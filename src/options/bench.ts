// `colt bench` options: one zod schema with every default, a pure parser that reports every bad
// value at once by flag. Flags arrive from commander as strings.
import { z } from 'zod';

import { costModel, integer, LIMITS, MEASURE_DEFAULTS, positiveNumber } from './fields';
import { targetOption, type TargetSpec } from './target';

/** The strategies `colt bench` knows how to run. */
export const STRATEGIES = [
  'colt',
  'colt-no-llm',
  'colt-pretrained',
  'colt-no-llm-pretrained',
  'colt-offline-3',
  'colt-qwen',
  'evolutionary',
  'replay-trace',
] as const;
export type StrategyName = (typeof STRATEGIES)[number];

/** The strategies that score with `--cost-model-file`: their base strategy plus that file, so one bench compares both, interleaved. */
export const PRETRAINED_STRATEGIES: readonly StrategyName[] = ['colt-pretrained', 'colt-no-llm-pretrained'];
const PRETRAINED_HINT = `${PRETRAINED_STRATEGIES.join(' or ')}`;

export const BENCH_DEFAULTS = {
  workloads: 'GMM:1,C2D:0',
  strategies: 'colt,evolutionary',
  budgets: '16,32,64',
  seeds: 3,
  out: 'runs/bench',
  ...MEASURE_DEFAULTS,
  /** The final re-measurement: rounds over all contenders, samples per round, ms per sample. */
  // Many short samples in many rounds: on a busy machine a 2-thread kernel whose thread shares a
  // core runs at half speed for as long as the neighbour stays, so each kernel needs samples
  // short enough, and spread widely enough, for some to land where both cores are free. The
  // fastest of them repeats within a few percent from one re-measurement to the next here,
  // where medians (and samples of 50-100 ms) moved by 2x.
  remeasureRounds: 12,
  remeasureRepeat: 20,
  remeasureMinRepeatMs: 2,
} as const;

export const BENCH_FLAGS: Record<string, string> = {
  workloads: '--workloads',
  strategies: '--strategies',
  budgets: '--budgets',
  seeds: '--seeds',
  out: '--out',
  target: '--target',
  perIter: '--per-iter',
  number: '--number',
  repeat: '--repeat',
  minRepeatMs: '--min-repeat-ms',
  timeout: '--timeout',
  costModel: '--cost-model',
  costModelFile: '--cost-model-file',
  models: '--models',
  runTimeout: '--run-timeout',
};

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const BUDGETS = `must be positive trial counts up to ${LIMITS.trials}, e.g. 16,32,64`;

export interface BenchOptionsContext {
  cores: number;
}

export function benchOptionsSchema(ctx: BenchOptionsContext) {
  return z.object({
    workloads: z
      .string()
      .default(BENCH_DEFAULTS.workloads)
      .transform(list)
      .pipe(z.array(z.string()).min(1, { error: 'must name at least one workload, e.g. GMM:1,C2D:0' })),
    strategies: z
      .string()
      .default(BENCH_DEFAULTS.strategies)
      .transform(list)
      .pipe(
        z
          .array(z.enum(STRATEGIES, { error: `must each be one of ${STRATEGIES.join(', ')}` }))
          .min(1, { error: `must name at least one of ${STRATEGIES.join(', ')}` })
          .refine((xs) => new Set(xs).size === xs.length, { error: 'must not repeat a strategy' }),
      ),
    budgets: z
      .string()
      .default(BENCH_DEFAULTS.budgets)
      .transform((text) => list(text).map(Number))
      .pipe(
        z
          .array(z.number({ error: BUDGETS }).int({ error: BUDGETS }).min(1, { error: BUDGETS }).max(LIMITS.trials, { error: BUDGETS }))
          .min(1, { error: BUDGETS })
          .max(64, { error: 'must name at most 64 budgets' }),
      )
      .transform((xs) => [...new Set(xs)].sort((a, b) => a - b)),
    seeds: integer(1, LIMITS.benchSeeds).default(BENCH_DEFAULTS.seeds),
    out: z.string().trim().min(1, { error: 'must not be empty' }).default(BENCH_DEFAULTS.out),
    target: targetOption(ctx.cores, BENCH_DEFAULTS.target)
      // Every strategy must use the same thread count: make the default explicit.
      .transform((t): TargetSpec => (t.kind === 'llvm' && t['num-cores'] === undefined ? { ...t, 'num-cores': ctx.cores } : t))
      .refine((t) => t.kind === 'llvm', { error: 'colt bench compares on this CPU: give an llvm target' }),
    perIter: integer(1, LIMITS.perIter).default(BENCH_DEFAULTS.perIter),
    number: integer(1, LIMITS.number).default(BENCH_DEFAULTS.number),
    repeat: integer(1, LIMITS.repeat).default(BENCH_DEFAULTS.repeat),
    minRepeatMs: integer(0, LIMITS.minRepeatMs).default(BENCH_DEFAULTS.minRepeatMs),
    timeout: positiveNumber(LIMITS.timeout).default(BENCH_DEFAULTS.timeout),
    costModel: costModel(),
    /** A cost model trained beforehand (scripts/cost-model) for the `-pretrained` strategies. */
    costModelFile: z.string().trim().min(1, { error: 'must name a file scripts/cost-model wrote' }).optional(),
    models: z.string().trim().min(1, { error: 'must name a models.json file' }).optional(),
    /** Seconds before a run's process group is killed; default: derived from the trials and --timeout. */
    runTimeout: positiveNumber(LIMITS.runTimeout).optional(),
    remeasureRounds: integer(1, 1000).default(BENCH_DEFAULTS.remeasureRounds),
    remeasureRepeat: integer(1, LIMITS.repeat).default(BENCH_DEFAULTS.remeasureRepeat),
    remeasureMinRepeatMs: integer(0, LIMITS.minRepeatMs).default(BENCH_DEFAULTS.remeasureMinRepeatMs),
  }).superRefine((o, ctx) => {
    const pretrained = o.strategies.filter((s) => PRETRAINED_STRATEGIES.includes(s));
    if (pretrained.length > 0 && o.costModelFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['costModelFile'], message: `must name the file ${pretrained.join(' and ')} score with (scripts/cost-model train)` });
    }
    if (pretrained.length === 0 && o.costModelFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['costModelFile'], message: `is used only by ${PRETRAINED_HINT}: add one to --strategies` });
    }
  });
}

export type BenchOptions = z.output<ReturnType<typeof benchOptionsSchema>> & {
  /** The target was left to default or given as `llvm`: the bench may add this CPU's mcpu. */
  targetIsShorthand: boolean;
};

export type BenchParseResult = { ok: true; options: BenchOptions } | { ok: false; issues: string[] };

/** Checks raw flag values; pure. Issues read `--budgets: must be positive integers, ...`. */
export function parseBenchOptions(raw: Record<string, unknown>, ctx: BenchOptionsContext): BenchParseResult {
  const result = benchOptionsSchema(ctx).safeParse(raw);
  if (result.success) {
    const target = typeof raw.target === 'string' ? raw.target.trim() : undefined;
    return { ok: true, options: { ...result.data, targetIsShorthand: target === undefined || target === 'llvm' } };
  }
  const seen = new Set<string>();
  const issues = result.error.issues.flatMap((issue) => {
    const [head] = issue.path.map(String);
    // One complaint per flag: `--budgets 0,x` is one mistake, not two.
    if (seen.has(head)) return [];
    seen.add(head);
    const flag = BENCH_FLAGS[head] ?? head;
    const given = head !== undefined ? raw[head] : undefined;
    const got = typeof given === 'string' && issue.code !== 'custom' ? ` (got ${JSON.stringify(given)})` : '';
    return [`${flag}: ${issue.message}${got}`];
  });
  return { ok: false, issues };
}
