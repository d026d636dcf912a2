// `colt bench merge A B ... --out C`: one bench.json from benches run one after another (the
// suite in parts), so that no single run has to last hours. Only parts of the same machine and
// the same settings merge, and no (workload, strategy, seed) may come from two parts. The runs
// keep their work dirs where they are (C's paths point into the parts). Pure but for loadBench.
import path from 'node:path';

import { Code, ColtError } from '../errors';
import { BENCH_VERSION, loadBench, type BenchResult } from './result';

/** What must match for two parts' numbers to be comparable. */
const MACHINE_KEYS = ['cpuModel', 'logicalCores', 'llvmHostCpu', 'tvm', 'numpy', 'python'] as const;
const SETTINGS_KEYS = ['target', 'numCores', 'budgets', 'perIter', 'measure', 'costModel', 'costModelFile', 'models', 'remeasure', 'env'] as const;

const show = (v: unknown): string => (v === undefined ? '(none)' : JSON.stringify(v));

/** Why `b` cannot join `a`, in a few words; null when it can. */
function mismatch(a: BenchResult, b: BenchResult): string | null {
  for (const k of MACHINE_KEYS) {
    if (show(a.machine[k]) !== show(b.machine[k])) return `a different machine (${k} ${show(a.machine[k])} vs ${show(b.machine[k])})`;
  }
  for (const k of SETTINGS_KEYS) {
    if (show(a.settings[k]) !== show(b.settings[k])) return `different settings (${k} ${show(a.settings[k])} vs ${show(b.settings[k])})`;
  }
  return null;
}

export interface MergePart {
  bench: BenchResult;
  /** The part's bench dir, absolute. */
  dir: string;
}

/** Merges parts into one result whose run dirs are relative to `outDir`. Throws INVALID_ARGUMENT, one line. */
export function mergeBenches(parts: readonly MergePart[], outDir: string, command: string): BenchResult {
  if (parts.length < 2) throw new ColtError(Code.InvalidArgument, 'bench merge needs at least two bench dirs');
  const first = parts[0];
  for (const p of parts) {
    if (p.bench.status !== 'done') {
      throw new ColtError(Code.InvalidArgument, `cannot merge ${p.dir}: that bench did not finish (${p.bench.status}); run that part again`);
    }
  }
  for (const p of parts.slice(1)) {
    const why = mismatch(first.bench, p.bench);
    if (why) throw new ColtError(Code.InvalidArgument, `cannot merge ${p.dir} with ${first.dir}: ${why}`);
  }
  const owner = new Map<string, string>();
  for (const p of parts) {
    for (const r of p.bench.runs) {
      const cell = `${r.workload} ${r.strategy} seed ${r.seed}`;
      const before = owner.get(cell);
      if (before !== undefined) throw new ColtError(Code.InvalidArgument, `cannot merge: ${cell} is in both ${before} and ${p.dir}`);
      owner.set(cell, p.dir);
    }
  }

  const notes: string[] = [];
  const workloads: BenchResult['workloads'] = [];
  for (const p of parts) {
    for (const w of p.bench.workloads) {
      if (workloads.some((x) => x.spec === w.spec)) {
        notes.push(`${w.spec} ran in more than one part; its numpy/OpenBLAS time is that of the first, and each part re-measured its own runs.`);
        continue;
      }
      workloads.push(w);
    }
  }
  const strategies = [...new Set(parts.flatMap((p) => p.bench.settings.strategies))];
  const seeds = [...new Set(parts.flatMap((p) => p.bench.settings.seeds))].sort((x, y) => x - y);
  const commits = [...new Set(parts.map((p) => String(p.bench.machine.gitCommit ?? 'unknown')))];
  if (commits.length > 1) notes.push(`the parts ran on different commits (${commits.join(', ')}).`);
  let order = 0;
  const runs = parts.flatMap((p) =>
    [...p.bench.runs]
      .sort((x, y) => x.order - y.order)
      .map((r) => ({ ...r, order: order++, workDir: path.relative(outDir, path.resolve(p.dir, r.workDir)) })),
  );
  const started = parts.map((p) => p.bench.startedAt).sort();
  const finished = parts.map((p) => p.bench.finishedAt ?? '').sort();
  return {
    ...first.bench,
    version: BENCH_VERSION,
    status: 'done',
    startedAt: started[0],
    finishedAt: finished[finished.length - 1] || null,
    command,
    settings: { ...first.bench.settings, strategies, seeds },
    workloads,
    runs,
    notes: [
      `merged from ${parts.length} parts, run one after another: ${parts.map((p) => `${p.dir} (${p.bench.command})`).join('; ')}`,
      ...notes,
      ...[...new Set(parts.flatMap((p) => p.bench.notes))],
    ],
  };
}

/** Loads each dir's bench.json and merges them. */
export function mergeBenchDirs(dirs: readonly string[], outDir: string, command: string): BenchResult {
  const parts = dirs.map((d) => {
    const { bench, dir } = loadBench(d);
    return { bench, dir: path.resolve(dir) };
  });
  const out = path.resolve(outDir);
  if (parts.some((p) => p.dir === out)) throw new ColtError(Code.InvalidArgument, `--out ${outDir} is one of the parts: give a new dir`);
  return mergeBenches(parts, out, command);
}
