// The `colt` command line and its single error boundary: typed errors become exit codes and
// exactly one `colt: error: …` line on stderr; a stack trace only with COLT_LOG_LEVEL=debug.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Command, CommanderError } from 'commander';

import { findRepoRoot } from '../config/paths';
import { runDaemon } from '../daemon/run';
import { Code, ColtError, EXIT } from '../errors';
import { BUCKET_NAMES, DEFAULT_BUCKET, DEFAULT_BUCKET_NAME } from '../llm';
import { createLogger, isDebug, type Logger } from '../log';
import { LISTEN_HELP, parseDaemonOptions } from '../options/daemon';
import { LIMITS } from '../options/fields';
import { formatIssue, parseTuneOptions, TUNE_DEFAULTS } from '../options/tune';
import { addBenchCommands } from './bench';
import { describeFailure } from './boundary';
import { addModelsCommands } from './models';
import { tune, type TuneIO } from './tune';

export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  cwd: string;
  logger: Logger;
  /** What the `llvm` target shorthand counts. */
  cores: number;
  bridge?: TuneIO['bridge'];
}

export function defaultIO(): CliIO {
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    cwd: process.cwd(),
    logger: createLogger(),
    cores: os.availableParallelism(),
  };
}

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(findRepoRoot(__dirname), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function buildProgram(io: CliIO, setCode: (code: number) => void): Command {
  const program = new Command('colt')
    .description('COLT: tune TVM MetaSchedule workloads with a tree search over schedule traces')
    .version(version())
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // The boundary prints the one error line; commander must not print its own.
      outputError: () => undefined,
    });

  program
    .command('tune')
    .description('tune one workload on a target and write a MetaSchedule database')
    .option('--workload <spec>', 'NAME:IDX from MetaSchedule te_workload (e.g. GMM:1), or a TVMScript file (required)')
    .option('--target <target>', `JSON target, e.g. '{"kind":"llvm","num-cores":2}', or llvm / cuda (default: ${TUNE_DEFAULTS.target})`)
    .option('--trials <n>', `hardware trials to spend (default: ${TUNE_DEFAULTS.trials}; at most ${LIMITS.trials})`)
    .option('--per-iter <n>', `trials per measured batch (default: ${TUNE_DEFAULTS.perIter}; at most ${LIMITS.perIter})`)
    .option('--work-dir <dir>', 'where the database and colt-summary.json go (default: runs/<workload-name>)')
    .option('--seed <n>', `random seed (default: ${TUNE_DEFAULTS.seed}; 0 to ${LIMITS.seed})`)
    .option('--number <n>', `runs per measurement (default: ${TUNE_DEFAULTS.number}; at most ${LIMITS.number})`)
    .option('--repeat <n>', `measurements per trial (default: ${TUNE_DEFAULTS.repeat}; at most ${LIMITS.repeat})`)
    .option('--min-repeat-ms <ms>', `minimum time of one measurement (default: ${TUNE_DEFAULTS.minRepeatMs}; at most ${LIMITS.minRepeatMs})`)
    .option('--timeout <sec>', `seconds allowed per build and per run (default: ${TUNE_DEFAULTS.timeout}; at most ${LIMITS.timeout})`)
    .option('--no-check-results', "don't compare each trial's outputs with the untuned build's (a mismatch is a failed trial, WRONG_RESULT)")
    .option('--cost-model <name>', `xgb or random (default: ${TUNE_DEFAULTS.costModel})`)
    .option('--cost-model-file <file>', 'a cost model trained beforehand on other workloads (scripts/cost-model): it scores beside xgb, alone until xgb has learned from the run; none: no such model (default: the bundled one on an x86-64 CPU)')
    .option(
      '--models <file>',
      'models.json: the LLMs (OpenAI-compatible endpoints, local GGUF files) that propose transformations (default: the built-in proposer and the bundled SmolLM2-135M)',
    )
    .option(
      '--bucket <name>',
      `offline models by name, instead of --models: ${BUCKET_NAMES.join(' or ')} (default: ${DEFAULT_BUCKET_NAME}; offline-3 adds Qwen2.5-Coder-1.5B: \`colt models fetch qwen2.5-coder-1.5b\`)`,
    )
    .option('--no-llm', 'the built-in proposer alone, without the bundled LLM')
    .option('--llm-budget <n>', `LLM calls for the whole run (default: ${DEFAULT_BUCKET.llmBudget} with the bundled LLM, else the models file's llmBudget; at most ${LIMITS.llmBudget})`)
    .option('--json', 'print JSON lines (one per search event, then a summary) instead of the table')
    .option('--rpc-tracker <host:port>', 'run trials on the devices of this TVM RPC tracker (builds stay here)')
    .option('--rpc-key <key>', 'the device key the RPC servers registered with (required with --rpc-tracker)')
    .option('--rpc-priority <n>', `priority of our sessions at the tracker (default: ${TUNE_DEFAULTS.rpcPriority}; at most ${LIMITS.rpcPriority})`)
    .option('--rpc-session-timeout <sec>', `seconds a device allows one trial, from its start there (default: --timeout; at most ${LIMITS.rpcSessionTimeout})`)
    .option('--resume', 'carry on the run in --work-dir from its checkpoint and database')
    .option('--force', 'start afresh in a --work-dir that holds a run, moving that run aside into a folder of its own')
    .option('--tuning-records <dir>', "warm start from another run's database: its best records seed the search")
    .option('--max-bridge-restarts <n>', `times to restart the TVM bridge if it dies mid-run (default: ${TUNE_DEFAULTS.maxBridgeRestarts}; at most ${LIMITS.maxBridgeRestarts})`)
    .action(async (raw: Record<string, unknown>) => {
      const parsed = parseTuneOptions(raw, { cores: io.cores });
      if (!parsed.ok) throw new ColtError(Code.InvalidArgument, parsed.issues.map(formatIssue).join('; '));
      setCode(await tune(parsed.options, { out: io.out, logger: io.logger, cwd: io.cwd, bridge: io.bridge }));
    });
  program
    .command('daemon')
    .description('serve the COLT tuning API (gRPC colt.v1.Tuner, proto/colt/v1/tuner.proto) for colt_tvm and other clients')
    .option(
      '--listen <address>',
      `${LISTEN_HELP}; port 0 picks a free one (default: unix:daemon.sock in $XDG_RUNTIME_DIR/colt, else /tmp/colt-<uid>)`,
    )
    .option('--token-file <path>', 'require the token in this file (mode 0600); default: $COLT_TOKEN, else a fresh one')
    .option('--parent-pid <pid>', 'exit when this process is gone (colt_tvm passes its own)')
    .action(async (raw: Record<string, unknown>) => {
      setCode(await runDaemon(parseDaemonOptions(raw, process.env, io.cwd), { out: io.out, logger: io.logger, cwd: io.cwd, cores: io.cores, bridge: io.bridge }));
    });
  addBenchCommands(program, io);
  addModelsCommands(program, io);
  return program;
}

/** Runs the CLI on argv (without `node script`); resolves to the exit code, never throws. */
export async function runCli(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  let code: number = EXIT.OK;
  try {
    if (argv.length === 0) throw new ColtError(Code.InvalidArgument, 'no command given: try `colt tune --help`');
    await buildProgram(io, (c) => (code = c)).parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) {
      return EXIT.OK;
    }
    const { code: exitCode, message } = describeFailure(err);
    io.err(`colt: error: ${message}`);
    if (isDebug(io.logger) && err instanceof Error && err.stack) io.logger.debug(err.stack);
    return exitCode;
  }
}
