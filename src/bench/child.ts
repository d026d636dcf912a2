// Running one bench program as a child process: each run in its own process, so that runs
// cannot share state (a warm cache, a leaked thread pool) and a crash costs one run only. Each
// child leads its own process group, so that its build and run workers go with it: on its
// timeout, on the bench's interruption (`stopAllChildren`) and on any exit of the bench (an
// exit hook), the whole group is killed, and a child's result comes only once its group is gone.
import { spawn } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last lines of stderr, for the error message of a failed run. */
  stderrTail: string[];
  /** The child's pid, which is also its process group's id. */
  pid?: number;
  /** It ran past its timeout and was killed. */
  timedOut?: boolean;
}

const TAIL = 15;
/** After SIGTERM, how long a group gets to wind down before SIGKILL. */
const KILL_GRACE_MS = 10_000;
/** How long to wait for a killed group's last processes to be reaped by init. */
const GROUP_REAP_MS = 10_000;

export interface ChildOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Keep stdout (else it is discarded). */
  captureStdout?: boolean;
  /** Each complete stderr line as it arrives (e.g. the debug log). */
  onStderrLine?: (line: string) => void;
  /** Kill the child's group (SIGTERM, then SIGKILL) once it has run this long. None: no limit. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL (default 10 s). */
  killGraceMs?: number;
}

/** Every child group still alive, with how to stop it: what `stopAllChildren` and the exit hook reach. */
const live = new Map<number, { stop: () => void; done: Promise<unknown> }>();
let exitHookInstalled = false;

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // The group is gone already.
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once no process is left in group `pid` (its orphans are reaped by init), or after `limitMs`. */
async function groupGone(pid: number, limitMs: number): Promise<void> {
  const until = Date.now() + limitMs;
  while (groupAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // The last resort, on every way out of this process (a second Ctrl-C, an uncaught error).
  process.on('exit', () => {
    for (const pid of live.keys()) signalGroup(pid, 'SIGKILL');
  });
}

/**
 * Stops every bench child still running: SIGTERM to each group (SIGKILL after the grace), and
 * resolves once all of them have exited and their groups are gone.
 */
export async function stopAllChildren(): Promise<void> {
  const all = [...live.values()];
  for (const c of all) c.stop();
  await Promise.all(all.map((c) => c.done));
}

/** How many bench children are running now. */
export function liveChildren(): number {
  return live.size;
}

/** Runs `command args` to its end; never rejects for a non-zero exit (the caller decides). */
export function runChild(command: string, args: string[], options: ChildOptions): Promise<ChildResult> {
  installExitHook();
  let stop: () => void = () => undefined;
  let pid: number | undefined;
  const done = new Promise<ChildResult>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
      detached: true,
    });
    pid = child.pid;
    let stdout = '';
    const tail: string[] = [];
    let pending = '';
    let timedOut = false;
    let graceTimer: NodeJS.Timeout | undefined;
    stop = (): void => {
      if (child.pid === undefined || graceTimer) return;
      signalGroup(child.pid, 'SIGTERM');
      graceTimer = setTimeout(() => signalGroup(child.pid as number, 'SIGKILL'), options.killGraceMs ?? KILL_GRACE_MS);
    };
    const limit =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs)
        : undefined;
    const finish = (): void => {
      clearTimeout(limit);
      clearTimeout(graceTimer);
      if (child.pid !== undefined) live.delete(child.pid);
    };

    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        options.onStderrLine?.(line);
        tail.push(line);
        if (tail.length > TAIL) tail.shift();
      }
    });
    child.on('error', (err) => {
      finish();
      reject(err);
    });
    // Workers the child left in its group would outlive it (and hold its pipes open): they go
    // with it, before its streams can close.
    child.on('exit', () => {
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    });
    child.on('close', (code, signal) => {
      if (pending.trim() !== '') tail.push(pending);
      const result: ChildResult = { code, signal, stdout, stderrTail: tail.slice(-TAIL), pid: child.pid, timedOut };
      void (child.pid !== undefined ? groupGone(child.pid, GROUP_REAP_MS) : Promise.resolve()).then(() => {
        finish();
        resolve(result);
      });
    });
  });
  if (pid !== undefined) live.set(pid, { stop: () => stop(), done: done.then(() => undefined, () => undefined) });
  return done;
}

/** The last stdout line as JSON: how the bench's Python programs answer. */
export function lastJsonLine<T>(stdout: string): T | undefined {
  const last = stdout.trim().split('\n').at(-1);
  if (!last) return undefined;
  try {
    return JSON.parse(last) as T;
  } catch {
    return undefined;
  }
}

/** One line saying why a child failed: its exit and the most telling stderr line. */
export function describeFailure(what: string, result: ChildResult): string {
  const how = result.timedOut
    ? `ran past its timeout and was killed`
    : result.signal
      ? `killed by ${result.signal}`
      : `exit code ${result.code}`;
  // Python tracebacks end with the error; colt ends with its one `colt: error:` line.
  const telling = [...result.stderrTail].reverse().find((l) => /error|exception|failed/i.test(l)) ?? result.stderrTail.at(-1);
  return `${what} failed (${how})${telling ? `: ${telling.trim().slice(0, 400)}` : ''}`;
}
