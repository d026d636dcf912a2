// `colt daemon [--listen unix:PATH|HOST:PORT] [--token-file F] [--parent-pid PID]`: serves the
// Tuner API until SIGINT/SIGTERM, or until the parent process it was started for is gone
// (colt_tvm starts it so). By default it listens on a Unix socket in a per-user folder of mode
// 0700; on any address every call needs the daemon's token, kept in a file of mode 0600 (next to
// the socket, or in that folder for TCP). Prints one line
// `COLT_DAEMON_READY address=ADDRESS pid=PID token_file=FILE` on stdout once it accepts calls
// (never the token itself); logs go to stderr.
import fs from 'node:fs';
import path from 'node:path';

import type { StartBridgeOptions } from '../bridge';
import { newToken, TOKEN_ENV } from '../config/auth';
import { Code, ColtError, EXIT } from '../errors';
import type { Logger } from '../log';
import { formatListen, type DaemonCommandOptions } from '../options/daemon';
import { Interrupts } from '../process/interrupts';
import { identify, sameProcess } from '../process/liveness';
import {
  clearStaleSocket,
  ensurePrivateDir,
  readTokenFile,
  runtimeDir,
  tokenFileForPort,
  tokenFileForSocket,
  writeTokenFile,
} from '../process/private-files';
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

/** The token every call must carry: from --token-file, else $COLT_TOKEN, else a fresh one. */
function daemonToken(options: DaemonCommandOptions): string {
  // Bridges and build workers are started from our environment: the token stays with us.
  delete process.env[TOKEN_ENV];
  if (options.tokenFile) return readTokenFile(options.tokenFile);
  return options.token ?? newToken();
}

/** Serves until told to stop; resolves to the exit code. */
export async function runDaemon(options: DaemonCommandOptions, io: DaemonIO): Promise<number> {
  const { logger } = io;
  const token = daemonToken(options);
  const { listen } = options;
  if (listen.kind === 'unix') {
    ensurePrivateDir(path.dirname(listen.path));
    await clearStaleSocket(listen.path);
  } else {
    ensurePrivateDir(runtimeDir());
  }
  const daemon = new TunerDaemon({ env: { logger, cwd: io.cwd, bridge: io.bridge }, cores: io.cores, token });
  let address: string;
  try {
    address = await daemon.listen(formatListen(listen));
  } catch (err) {
    throw new ColtError(Code.Unavailable, (err as Error).message, { cause: err });
  }
  // Ours to remove when we stop: the socket, and the token file unless the user gave it.
  const ours: string[] = [];
  if (listen.kind === 'unix') {
    fs.chmodSync(listen.path, 0o600);
    ours.push(listen.path);
  }
  let tokenFile = options.tokenFile;
  if (!tokenFile) {
    tokenFile = listen.kind === 'unix' ? tokenFileForSocket(listen.path) : tokenFileForPort(Number(address.slice(address.lastIndexOf(':') + 1)));
    writeTokenFile(tokenFile, token);
    ours.push(tokenFile);
  }
  if (listen.kind === 'tcp' && !LOOPBACK.test(listen.host)) {
    logger.warn(`listening on ${address}: anyone who reaches it and has the token (${tokenFile}) can start tuning jobs on this machine`);
  }
  io.out(`${READY_LINE} address=${address} pid=${process.pid} token_file=${tokenFile}`);
  logger.info(`colt daemon serving colt.v1.Tuner on ${address} (token in ${tokenFile})`);

  // The first signal (or the parent gone) stops the daemon; a second signal leaves at once.
  const interrupts = new Interrupts(logger);
  interrupts.install();
  let watchdog: NodeJS.Timeout | undefined;
  const reason = await new Promise<{ graceMs: number; why: string }>((resolve) => {
    interrupts.onInterrupt((sig) => resolve({ graceMs: STOP_GRACE_MS, why: sig }));
    const parent = options.parentPid;
    if (parent) {
      // The parent as it is now: a pid handed to another process later is not our parent.
      const { startTime } = identify(parent);
      watchdog = setInterval(() => {
        if (!sameProcess(parent, startTime)) resolve({ graceMs: ORPHAN_GRACE_MS, why: `parent process ${parent} is gone` });
      }, 1_000);
    }
  });
  clearInterval(watchdog);
  const running = daemon.jobs.list().filter((j) => j.isRunning).length;
  logger.info(`colt daemon stopping (${reason.why})${running ? `: cancelling ${running} running job(s)` : ''}`);
  await daemon.stop(reason.graceMs);
  for (const file of ours) fs.rmSync(file, { force: true });
  interrupts.uninstall();
  return EXIT.OK;
}
