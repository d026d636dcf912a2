// `colt daemon --listen HOST:PORT [--parent-pid PID]`: serves the Tuner API until SIGINT/SIGTERM,
// or until the parent process it was started for is gone (colt_tvm starts it so). Prints one
// line `COLT_DAEMON_READY address=HOST:PORT pid=PID` on stdout once it accepts calls; logs go to
// stderr.
import type { StartBridgeOptions } from '../bridge';
import { Code, ColtError, EXIT } from '../errors';
import type { Logger } from '../log';
import type { DaemonCommandOptions } from '../options/daemon';
import { Interrupts } from '../process/interrupts';
import { TunerDaemon } from './server';

export const READY_LINE = 'COLT_DAEMON_READY';

/** How long running jobs get to finish their batch in flight when the daemon is told to stop. */
const STOP_GRACE_MS = 60_000;
/** When the parent is gone nobody waits for results: stop sooner. */
const ORPHAN_GRACE_MS = 5_000;

export interface DaemonIO {
  out: (text: string) => void;
  logger: Logger;
  cwd: string;
  cores: number;
  bridge?: Omit<StartBridgeOptions, 'logger'>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Serves until told to stop; resolves to the exit code. */
export async function runDaemon(options: DaemonCommandOptions, io: DaemonIO): Promise<number> {
  const { logger } = io;
  const daemon = new TunerDaemon({ env: { logger, cwd: io.cwd, bridge: io.bridge }, cores: io.cores });
  let address: string;
  try {
    address = await daemon.listen(options.listen);
  } catch (err) {
    throw new ColtError(Code.Unavailable, (err as Error).message, { cause: err });
  }
  const host = address.slice(0, address.lastIndexOf(':'));
  if (!LOOPBACK.test(host)) logger.warn(`listening on ${address}: anyone who reaches it can start tuning jobs on this machine`);
  io.out(`${READY_LINE} address=${address} pid=${process.pid}`);
  logger.info(`colt daemon serving colt.v1.Tuner on ${address}`);

  // The first signal (or the parent gone) stops the daemon; a second signal leaves at once.
  const interrupts = new Interrupts(logger);
  interrupts.install();
  let watchdog: NodeJS.Timeout | undefined;
  const reason = await new Promise<{ graceMs: number; why: string }>((resolve) => {
    interrupts.onInterrupt((sig) => resolve({ graceMs: STOP_GRACE_MS, why: sig }));
    const parent = options.parentPid;
    if (parent) {
      watchdog = setInterval(() => {
        if (!alive(parent)) resolve({ graceMs: ORPHAN_GRACE_MS, why: `parent process ${parent} is gone` });
      }, 1_000);
    }
  });
  clearInterval(watchdog);
  const running = daemon.jobs.list().filter((j) => j.isRunning).length;
  logger.info(`colt daemon stopping (${reason.why})${running ? `: cancelling ${running} running job(s)` : ''}`);
  await daemon.stop(reason.graceMs);
  interrupts.uninstall();
  return EXIT.OK;
}
