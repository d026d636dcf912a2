// `colt bench` and `colt report`: their flags. The work is in src/bench/.
import fs from 'node:fs';
import path from 'node:path';

import type { Command } from 'commander';

import { bench, loadBench, mergeBenchDirs, remeasureBench, summaryLines, targetLines, writeBench, writeReport } from '../bench';
import { Code, ColtError } from '../errors';
import { BENCH_DEFAULTS, parseBenchOptions, STRATEGIES } from '../options/bench';

export interface BenchCommandIO {
  out: (text: string) => void;
  cwd: string;
  cores: number;
  /** Progress lines (stderr); `isTTY` redraws one line in place. */
  progress?: { write(text: string): void; isTTY?: boolean };
}

/** The command as given, for the record: `bench --workloads GMM:1 --seeds 3`. */
function commandLine(raw: Record<string, unknown>): string[] {
  const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return ['bench', ...Object.entries(raw).flatMap(([k, v]) => [`--${kebab(k)}`, String(v)])];
}

export function addBenchCommands(program: Command, io: BenchCommandIO): void {
  const benchCommand = program
    .command('bench')
    .description('compare COLT with MetaSchedule on this machine: tuning curves, ratios, % of BLAS; writes bench.json and report.html')
    .option('--workloads <list>', `comma-separated: NAME:IDX, bench layers (llama3-attn, llama4-mlp, ...) or TVMScript files (default: ${BENCH_DEFAULTS.workloads})`)
    .option('--strategies <list>', `comma-separated, of ${STRATEGIES.join(', ')} (default: ${BENCH_DEFAULTS.strategies})`)
    .option('--budgets <list>', `trial counts to compare at; each run spends the largest (default: ${BENCH_DEFAULTS.budgets})`)
    .option('--seeds <n>', `seeds per (workload, strategy): 0..n-1 (default: ${BENCH_DEFAULTS.seeds})`)
    .option('--out <dir>', `where bench.json, report.html and the runs' work dirs go (default: ${BENCH_DEFAULTS.out})`)
    .option('--target <target>', 'llvm target as JSON; the default `llvm` means this CPU (its mcpu) with all its cores')
    .option('--per-iter <n>', `trials per measured batch, every strategy (default: ${BENCH_DEFAULTS.perIter})`)
    .option('--number <n>', `runs per measurement (default: ${BENCH_DEFAULTS.number})`)
    .option('--repeat <n>', `measurements per trial (default: ${BENCH_DEFAULTS.repeat})`)
    .option('--min-repeat-ms <ms>', `minimum time of one measurement (default: ${BENCH_DEFAULTS.minRepeatMs})`)
    .option('--timeout <sec>', `seconds allowed per build and per run (default: ${BENCH_DEFAULTS.timeout})`)
    .option('--cost-model <name>', `xgb or random, every strategy (default: ${BENCH_DEFAULTS.costModel})`)
    .option('--cost-model-file <file>', 'a cost model file (scripts/cost-model) for the -pretrained strategies; the other COLT strategies then run with none (colt tune --cost-model-file)')
    .option('--models <file>', 'models.json for the colt strategy (default: colt tune\'s own default)')
    .option('--run-timeout <sec>', 'seconds before a run (and its process group) is killed (default: 900 + trials x (2 x --timeout + 30))')
    .action(async (raw: Record<string, unknown>) => {
      const parsed = parseBenchOptions(raw, { cores: io.cores });
      if (!parsed.ok) throw new ColtError(Code.InvalidArgument, parsed.issues.join('; '));
      await bench(parsed.options, {
        out: io.out,
        progress: io.progress ?? process.stderr,
        cwd: io.cwd,
        argv: commandLine(raw),
      });
    });

  benchCommand
    .command('merge')
    .description('merge the bench.json files of benches run in parts (same machine, same settings) into one bench dir')
    .argument('<dirs...>', 'the parts\' bench dirs (or their bench.json files)')
    .option('--out <dir>', 'the merged bench dir (new): bench.json and report.html')
    .action((dirs: string[], flags: { out?: string }, cmd: Command) => {
      // `--out` after `merge` is parsed by `bench`, which knows it too.
      const parent = cmd.parent?.opts() ?? {};
      const stray = Object.keys(parent).filter((k) => k !== 'out');
      if (stray.length > 0) throw new ColtError(Code.InvalidArgument, `bench merge takes only --out (got --${stray[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)})`);
      const out = flags.out ?? (parent.out as string | undefined);
      if (!out) throw new ColtError(Code.InvalidArgument, 'bench merge: --out <dir> is required');
      const outDir = path.resolve(io.cwd, out);
      const merged = mergeBenchDirs(
        dirs.map((d) => path.resolve(io.cwd, d)),
        outDir,
        ['colt', 'bench', 'merge', ...dirs, '--out', out].join(' '),
      );
      fs.mkdirSync(outDir, { recursive: true });
      writeBench(outDir, merged);
      for (const line of summaryLines(merged)) io.out(line);
      io.out(`Report: ${writeReport(outDir, merged)}`);
    });

  program
    .command('report')
    .description('re-render report.html from a bench dir\'s bench.json')
    .argument('[dir]', 'the bench dir (or its bench.json)', BENCH_DEFAULTS.out)
    .option('--remeasure', "re-measure the runs' best schedules (and numpy) again first, e.g. after a busy spell; the tuning runs stay")
    .option('--targets', "also check the suite's targets against evolutionary search: one PASS or FAIL line each")
    .action(async (dir: string, flags: { remeasure?: boolean; targets?: boolean }) => {
      const where = path.resolve(io.cwd, dir);
      if (flags.remeasure) {
        await remeasureBench(where, { out: io.out, progress: io.progress ?? process.stderr });
      } else {
        const { bench: result, dir: benchDir } = loadBench(where);
        io.out(`Report: ${writeReport(benchDir, result)}`);
      }
      if (flags.targets) for (const line of targetLines(loadBench(where).bench)) io.out(line);
    });
}
