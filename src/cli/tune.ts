// `colt tune`: one tuning job from flags to database, run by the job machinery (src/jobs/) and
// reported on stdout as a table or JSON lines. The CLI's own part is the terminal: signals (the
// first SIGINT/SIGTERM lets the batch in flight finish, the second leaves) and exit codes.
import type { StartBridgeOptions } from '../bridge';
import { JobManager } from '../jobs';
import type { Logger } from '../log';
import type { TuneOptions } from '../options/tune';
import { exitCodeFor, Interrupts } from '../process/interrupts';
import { createReporter, type LineSink } from '../reporters';

export interface TuneIO {
  /** stdout, one call per line or block of lines. */
  out: LineSink;
  logger: Logger;
  cwd: string;
  /** Passed through to the bridge supervisor (tests point it elsewhere). */
  bridge?: Omit<StartBridgeOptions, 'logger'>;
}

/**
 * Runs one tuning job through the job machinery (the daemon's Tune runs the same) and reports
 * it on stdout; resolves to the exit code (0, or 130/143 when interrupted), or throws what
 * stopped the job for the CLI's error boundary.
 */
export async function tune(options: TuneOptions, io: TuneIO): Promise<number> {
  const reporter = createReporter(options.json ? 'json' : 'table', io.out);
  const jobs = new JobManager({ logger: io.logger, cwd: io.cwd, bridge: io.bridge });
  const interrupts = new Interrupts(io.logger, 'finishing the batch in flight, then writing the summary (again to stop at once)');
  interrupts.install();
  try {
    const job = jobs.startTune(options, { watchers: [reporter] });
    interrupts.onInterrupt(() => job.cancel());
    const ended = await job.ended;
    if (ended.state === 'FAILED') throw job.failure;
    return exitCodeFor(interrupts.received);
  } finally {
    interrupts.uninstall();
  }
}
