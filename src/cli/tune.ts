// `colt tune`: one tuning job from flags to database, run by the job machinery (src/jobs/) and
// reported on stdout as a table or JSON lines. The CLI's own part is the terminal: signals (the
// first SIGINT/SIGTERM lets the batch in flight finish, the second leaves) and exit codes.
import type { StartBridgeOptions } from '../bridge';
import { JobManager } from '../jobs';
import type { Logger } from '../log';
import { EXIT } from './errors';
import type { TuneOptions } from './options';
import { createReporter, type LineSink } from './reporters';

export interface TuneIO {
  /** stdout, one call per line or block of lines. */
  out: LineSink;
  logger: Logger;
  cwd: string;
  /** Passed through to the bridge supervisor (tests point it elsewhere). */
  bridge?: Omit<StartBridgeOptions, 'logger'>;
}

type StopSignal = 'SIGINT' | 'SIGTERM';

/** First SIGINT/SIGTERM: let the batch in flight finish. Second: leave now. */
class Interrupts {
  received: StopSignal | undefined;
  private readonly callbacks: Array<() => void> = [];
  private readonly handler = (sig: StopSignal): void => {
    if (this.received) {
      this.logger.warn('interrupted again: stopping now');
      // The supervisor's exit hook kills the bridge.
      process.exit(exitCodeFor(sig));
    }
    this.received = sig;
    this.logger.warn(`${sig}: finishing the batch in flight, then writing the summary (again to stop at once)`);
    for (const cb of this.callbacks) cb();
  };

  constructor(private readonly logger: Logger) {}

  install(): void {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  uninstall(): void {
    process.removeListener('SIGINT', this.handler);
    process.removeListener('SIGTERM', this.handler);
  }

  onInterrupt(cb: () => void): void {
    this.callbacks.push(cb);
    if (this.received) cb();
  }
}

function exitCodeFor(sig: StopSignal | undefined): number {
  if (sig === 'SIGINT') return EXIT.INTERRUPTED;
  if (sig === 'SIGTERM') return EXIT.TERMINATED;
  return EXIT.OK;
}

/**
 * Runs one tuning job through the job machinery (the daemon's Tune runs the same) and reports
 * it on stdout; resolves to the exit code (0, or 130/143 when interrupted), or throws what
 * stopped the job for the CLI's error boundary.
 */
export async function tune(options: TuneOptions, io: TuneIO): Promise<number> {
  const reporter = createReporter(options.json ? 'json' : 'table', io.out);
  const jobs = new JobManager({ logger: io.logger, cwd: io.cwd, bridge: io.bridge });
  const interrupts = new Interrupts(io.logger);
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
