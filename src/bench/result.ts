// bench.json: everything one `colt bench` measured and every setting it ran under, so that the
// report (and anyone's script) can be rebuilt from it alone. One zod schema; `parseBench` is
// pure, `loadBench` reads the file, `writeBench` writes it atomically.
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { jsonErrorWhere } from '../config/json';
import { Code, ColtError } from '../errors';

export const BENCH_FILE = 'bench.json';
export const BENCH_VERSION = 1;

const num = z.number();
const nullableNum = num.nullable();

const remeasured = z.object({
  /** Over every timed sample (rounds × repeat), µs. */
  medianUs: num.optional(),
  minUs: num.optional(),
  samples: num.optional(),
  /** Output equal to the untuned build's on the same random inputs. */
  correct: z.boolean().optional(),
  error: z.string().optional(),
});

const llmModel = z.looseObject({
  calls: num,
  promptTokens: num,
  completionTokens: num,
  costUsd: num,
});

export const runSchema = z.object({
  id: z.string(),
  workload: z.string(),
  strategy: z.string(),
  seed: num,
  /** Position in the interleaved order the runs went in. */
  order: num,
  workDir: z.string(),
  status: z.enum(['ok', 'failed', 'skipped']),
  error: z.string().optional(),
  /** Trials recorded in the run's database. */
  trials: num,
  /** Each trial's latency in µs, in commit order; null for a failed trial. */
  trialLatenciesUs: z.array(nullableNum),
  /** Best latency after each trial, µs; null until the first success. */
  curveUs: z.array(nullableNum),
  wallSeconds: z.record(z.string(), num),
  /** Per budget: the record holding the run's best within that many trials, re-measured. */
  atBudget: z.record(
    z.string(),
    z.object({ record: num.nullable(), tuningUs: nullableNum, remeasured: remeasured.nullable() }),
  ),
  /** LLM use of a COLT run, per model; null when no LLM was configured. */
  llm: z
    .object({
      perModel: z.record(z.string(), llmModel),
      totals: z.looseObject({ calls: num, promptTokens: num, completionTokens: num, costUsd: num }),
      smallModelShare: nullableNum.optional(),
    })
    .nullable(),
  untunedUs: nullableNum.optional(),
  /**
   * Seconds from the run's start until each trial's record was first seen in its database (polled
   * each second): the same clock for every strategy, whatever it reports of itself.
   */
  recordSeenSec: z.array(num).optional(),
  /** The machine's 1-minute load average when the run started and ended: how busy it was. */
  loadAvg: z.object({ start: num, end: num }).optional(),
});

export const benchSchema = z.object({
  version: z.literal(BENCH_VERSION),
  status: z.enum(['running', 'done', 'interrupted']),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  command: z.string(),
  machine: z.looseObject({
    cpuModel: z.string(),
    logicalCores: num,
    totalMemGiB: num,
    platform: z.string(),
    node: z.string(),
  }),
  settings: z.looseObject({
    target: z.looseObject({ kind: z.string() }),
    numCores: num,
    budgets: z.array(num),
    seeds: z.array(num),
    strategies: z.array(z.string()),
    perIter: num,
    measure: z.object({ number: num, repeat: num, minRepeatMs: num, timeoutSec: num }),
    costModel: z.string(),
    /** The COLT strategies' cost model trained beforehand, if any (absent in older benches). */
    costModelFile: z.string().nullable().optional(),
    remeasure: z.object({ rounds: num, repeat: num, minRepeatMs: num }),
    /** Each run's process group is killed after this long. */
    runTimeoutSec: num.optional(),
    /** The re-measurement's own environment: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset there. */
    remeasureEnv: z.record(z.string(), z.string().nullable()).optional(),
    /** Which BLAS (and kernel: its `architecture`) numpy ran in the re-measurement, from threadpoolctl. */
    blasRuntime: z.array(z.looseObject({})).optional(),
  }),
  workloads: z.array(
    z.object({
      spec: z.string(),
      task: z.string().nullable(),
      flop: nullableNum,
      matmulLike: z.boolean(),
      /** numpy/OpenBLAS on the same operation, same threads, timed in the same rounds. */
      blas: remeasured.nullable(),
    }),
  ),
  runs: z.array(runSchema),
  notes: z.array(z.string()),
});

export type BenchResult = z.infer<typeof benchSchema>;
export type BenchRun = z.infer<typeof runSchema>;
export type Remeasured = z.infer<typeof remeasured>;
export type BenchWorkload = BenchResult['workloads'][number];

/**
 * A re-measured kernel's time: its fastest sample. On a shared machine a neighbour can only slow
 * code down, so the fastest of many samples is the least disturbed estimate of the code's speed.
 */
export function remeasuredUs(r: Remeasured | null | undefined): number | undefined {
  return r?.minUs ?? r?.medianUs;
}

/** Checks a parsed bench.json; every problem by dot path. Pure. */
export function parseBench(value: unknown, where = BENCH_FILE): BenchResult {
  const result = benchSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(top)'}: ${i.message}`);
  throw new ColtError(Code.InvalidArgument, `${where} is not a colt bench result: ${problems.join('; ')}`);
}

/** Reads DIR/bench.json (or the file itself). */
export function loadBench(dirOrFile: string): { bench: BenchResult; dir: string } {
  if (!fs.existsSync(dirOrFile)) throw new ColtError(Code.InvalidArgument, `${dirOrFile}: no such directory (run \`colt bench --out ${dirOrFile}\` first)`);
  const file = fs.existsSync(dirOrFile) && fs.statSync(dirOrFile).isDirectory() ? path.join(dirOrFile, BENCH_FILE) : dirOrFile;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ColtError(Code.InvalidArgument, `cannot read ${file}: ${code === 'ENOENT' ? 'no such file (run `colt bench` first)' : (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ColtError(Code.InvalidArgument, `${file} is not valid JSON${jsonErrorWhere(err, text)}`);
  }
  return { bench: parseBench(value, file), dir: path.dirname(file) };
}

/** Writes atomically (tmp file + rename): a reader never sees half a file. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export function writeBench(dir: string, bench: BenchResult): string {
  const file = path.join(dir, BENCH_FILE);
  writeFileAtomic(file, `${JSON.stringify(bench, null, 1)}\n`);
  return file;
}
