// Running one bench program as a child process: each run in its own process, so that runs
// cannot share state (a warm cache, a leaked thread pool) and a crash costs one run only.
import { spawn } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last lines of stderr, for the error message of a failed run. */
  stderrTail: string[];
}

const TAIL = 15;

export interface ChildOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Keep stdout (else it is discarded). */
  captureStdout?: boolean;
  /** Each complete stderr line as it arrives (e.g. the debug log). */
  onStderrLine?: (line: string) => void;
}

/** Runs `command args` to its end; never rejects for a non-zero exit (the caller decides). */
export function runChild(command: string, args: string[], options: ChildOptions): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
    });
    let stdout = '';
    const tail: string[] = [];
    let pending = '';
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
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (pending.trim() !== '') tail.push(pending);
      resolve({ code, signal, stdout, stderrTail: tail.slice(-TAIL) });
    });
  });
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
  const how = result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
  // Python tracebacks end with the error; colt ends with its one `colt: error:` line.
  const telling = [...result.stderrTail].reverse().find((l) => /error|exception|failed/i.test(l)) ?? result.stderrTail.at(-1);
  return `${what} failed (${how})${telling ? `: ${telling.trim().slice(0, 400)}` : ''}`;
}
