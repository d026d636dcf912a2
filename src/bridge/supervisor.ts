// Runs the Python bridge as a child process: starts it on a free loopback port, waits until it
// answers, forwards its log, notices when it dies, and makes sure it never outlives us. Each
// bridge gets a fresh token on its stdin (never argv, which every user can read in /proc) and
// refuses callers without it; it starts without the run's API keys in its environment.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

import { newToken, TOKEN_ENV } from '../config/auth';
import { findRepoRoot, PYTHON_BRIDGE_DIR, VENV_PYTHON } from '../config/paths';
import { Code, ColtError } from '../errors';
import { silentLogger, type Logger } from '../log';
import { BridgeClient } from './client';
import { HealthWatch, type HealthWatchOptions } from './health';

/** The bridge could not be started, or did not answer once started; the message says why and what to do. */
function startError(message: string): ColtError {
  return new ColtError(Code.Unavailable, message);
}

export interface BridgeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when stop() asked for it. */
  expected: boolean;
}

/** "killed by SIGKILL", "exit code 1": how a person would say it. */
export function describeExit(exit: { code: number | null; signal: string | null }): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exit code ${exit.code ?? 'unknown'}`;
}

export interface StartBridgeOptions {
  /** The repository holding .venv/ and python-bridge/; found from this file by default. */
  repoRoot?: string;
  /** The Python interpreter; .venv/bin/python under the repository by default. */
  python?: string;
  logger?: Logger;
  /** The health watch's period, deadline and failures (src/bridge/health.ts); tests shorten it. */
  healthWatch?: HealthWatchOptions;
  /** How long to wait for the READY line: importing TVM takes seconds on a small machine. */
  readyTimeoutMs?: number;
  /**
   * Environment variables the bridge and its build workers must not see: the API-key variables
   * of the run's models file. The daemon's token variable is always left out.
   */
  withoutEnv?: readonly string[];
}

/** Our environment less the variables named (and the token variable). */
export function bridgeEnv(base: NodeJS.ProcessEnv, without: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, PYTHONUNBUFFERED: '1' };
  for (const name of [...without, TOKEN_ENV]) delete env[name];
  return env;
}

const READY = /^COLT_BRIDGE_READY port=(\d+) pid=(\d+)\s*$/;
const STDERR_TAIL = 20;
export const STOP_GRACE_MS = 5_000;
/** How long killed workers may take to disappear before we stop waiting for them. */
const GROUP_REAP_MS = 2_000;

export interface BridgeProcess {
  on(event: 'exit', listener: (exit: BridgeExit) => void): this;
  once(event: 'exit', listener: (exit: BridgeExit) => void): this;
}

/** A started bridge. Emits 'exit' once, with the same value `exited` resolves to. */
export class BridgeProcess extends EventEmitter {
  readonly exited: Promise<BridgeExit>;
  private exitInfo: BridgeExit | undefined;
  private stopping = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly address: string,
    readonly client: BridgeClient,
    private readonly logger: Logger,
    rawExit: Promise<Omit<BridgeExit, 'expected'>>,
    private readonly stderrTail: string[],
  ) {
    super();
    this.exited = rawExit.then((exit) => {
      const info: BridgeExit = { ...exit, expected: this.stopping };
      this.exitInfo = info;
      if (!info.expected) logger.debug(`bridge ${pid} stopped (${describeExit(info)})`);
      client.close();
      this.emit('exit', info);
      return info;
    });
  }

  /** @internal Starts the child; use startBridge(). */
  static async start(options: StartBridgeOptions = {}): Promise<BridgeProcess> {
    const logger = options.logger ?? silentLogger();
    const root = options.repoRoot ?? findRepoRoot(__dirname);
    const python = options.python ?? path.join(root, VENV_PYTHON);
    if (!fs.existsSync(python)) {
      throw startError(
        options.python
          ? `Python not found at ${python}`
          : 'Python venv not found at .venv/: run `bash scripts/setup`',
      );
    }
    const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
    const args = ['-m', 'colt_bridge', '--host', '127.0.0.1', '--port', '0', '--parent-pid', String(process.pid)];
    args.push('--log-level', logger.isLevelEnabled('debug') ? 'INFO' : 'WARNING');

    const token = newToken();
    const child = spawn(python, args, {
      cwd: path.join(root, PYTHON_BRIDGE_DIR),
      env: bridgeEnv(process.env, options.withoutEnv),
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C at the terminal reaches only us, so we can let the
      // batch in flight finish; and the group lets us kill its build/run workers with it.
      detached: true,
    });
    // Registered at once, so that no path out of this process leaves the child behind.
    const killOnExit = (): void => killGroup(child, 'SIGKILL');
    process.on('exit', killOnExit);
    // Its first stdin line is its token; a child that died at once must not fail us with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`${token}\n`);

    const tail: string[] = [];
    const stderr = readline.createInterface({ input: child.stderr as NodeJS.ReadableStream });
    stderr.on('line', (line) => {
      tail.push(line);
      if (tail.length > STDERR_TAIL) tail.shift();
      logger.debug(line, { source: 'bridge' });
    });

    const exited = new Promise<Omit<BridgeExit, 'expected'>>((resolve) => {
      child.once('exit', (code, signal) => {
        process.removeListener('exit', killOnExit);
        // Build and run workers left in the group would otherwise outlive their parent.
        killGroup(child, 'SIGKILL');
        void groupGone(child.pid as number, GROUP_REAP_MS).then(() => resolve({ code, signal }));
      });
      // A process that never started has no exit to wait for.
      child.once('error', () => {
        if (child.pid !== undefined) return;
        process.removeListener('exit', killOnExit);
        resolve({ code: null, signal: null });
      });
    });

    let port: number;
    try {
      port = await waitForReady(child, exited, readyTimeoutMs, tail, logger);
    } catch (err) {
      killGroup(child, 'SIGKILL');
      await exited;
      throw err;
    }

    const address = `127.0.0.1:${port}`;
    const client = new BridgeClient(address, { token });
    const bridge = new BridgeProcess(child, child.pid as number, address, client, logger, exited, tail);
    logger.debug(`bridge ${bridge.pid} ready on ${address}`);
    // Alive and not answering (kill -STOP): killed, so that it is restarted like a dead one.
    const probe = new BridgeClient(address, { token });
    const watch = new HealthWatch(
      (deadlineMs) => probe.health({ deadlineMs }),
      (failures) => {
        logger.warn(`the TVM bridge (pid ${bridge.pid}) is not answering (${failures} health checks in a row): killing it to start it again`);
        killGroup(child, 'SIGKILL');
      },
      options.healthWatch,
    ).start();
    void exited.then(() => {
      watch.stop();
      probe.close();
    });
    return bridge;
  }

  /** Set once the process has exited. */
  get exit(): BridgeExit | undefined {
    return this.exitInfo;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** The bridge's last stderr lines, newest last: where its reason for dying would be. */
  lastLogLines(): string[] {
    return [...this.stderrTail];
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  async stop(graceMs: number = STOP_GRACE_MS): Promise<BridgeExit> {
    if (this.exitInfo) return this.exitInfo;
    this.stopping = true;
    this.client.close();
    signal(this.child, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const escalate = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.logger.debug(`bridge ${this.pid} ignored SIGTERM for ${graceMs} ms: SIGKILL`);
        killGroup(this.child, 'SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, escalate]);
    clearTimeout(timer);
    return this.exited;
  }
}

/** Starts the Python bridge and resolves once it answers a health check. */
export async function startBridge(options: StartBridgeOptions = {}): Promise<BridgeProcess> {
  const bridge = await BridgeProcess.start(options);
  try {
    await bridge.client.health();
  } catch (err) {
    await bridge.stop();
    throw startError(`the TVM bridge started but does not answer: ${(err as Error).message}`);
  }
  return bridge;
}

function waitForReady(
  child: ChildProcess,
  exited: Promise<Omit<BridgeExit, 'expected'>>,
  timeoutMs: number,
  stderrTail: string[],
  logger: Logger,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const stdout = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new ColtError(Code.Unavailable, `the TVM bridge was not ready after ${Math.round(timeoutMs / 1000)} s`, { details: { notReady: true } })),
        ),
      timeoutMs,
    );
    stdout.on('line', (line) => {
      const match = READY.exec(line);
      if (match) finish(() => resolve(Number(match[1])));
      else logger.debug(line, { source: 'bridge', stream: 'stdout' });
    });
    child.once('error', (err) => finish(() => reject(startError(`cannot start the TVM bridge: ${err.message}`))));
    void exited.then((exit) => {
      const reason = stderrTail.filter((l) => l.trim()).at(-1);
      finish(() =>
        reject(
          startError(
            `the TVM bridge exited before it was ready (${describeExit(exit)})${reason ? `: ${reason.trim()}` : ''}`,
          ),
        ),
      );
    });
  });
}

/** Resolves once no process is left in group `pgid`, or after `timeoutMs`. */
async function groupGone(pgid: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    if (Date.now() >= until) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    child.kill(sig);
  } catch {
    // Already gone.
  }
}

/** Signals the child's whole process group (it leads one: detached), falling back to the child. */
function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    if (child.exitCode === null && child.signalCode === null) signal(child, sig);
  }
}
