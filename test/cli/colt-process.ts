// Runs the compiled CLI and plain Python as child processes, as a user would.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..');
export const MAIN = path.join(REPO, 'dist', 'cli', 'main.js');
export const PYTHON = path.join(REPO, '.venv', 'bin', 'python');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** scripts/setup builds dist/ before `npm test`; a test run on its own builds it if stale. */
export function ensureBuilt(): void {
  if (fs.existsSync(MAIN) && fs.statSync(MAIN).mtimeMs >= newestMtime(path.join(REPO, 'src'))) return;
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(REPO, 'tsconfig.json')], {
    cwd: REPO,
    stdio: 'inherit',
  });
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment a user has: no debug logging unless a test asks for it. */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('COLT_LOG_LEVEL' in extra)) delete env.COLT_LOG_LEVEL;
  return env;
}

export interface Running {
  child: ChildProcess;
  done: Promise<Finished>;
  /** Called with each complete stdout line as it arrives. */
  onLine(fn: (line: string) => void): void;
}

export function startColt(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Running {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: options.cwd ?? REPO,
    env: options.env ?? userEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  const listeners: Array<(line: string) => void> = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) for (const fn of listeners) fn(line);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, onLine: (fn) => listeners.push(fn) };
}

export function runColt(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Finished> {
  return startColt(args, options).done;
}

/** Runs a Python snippet in the repository's venv with plain TVM; returns its last stdout line as JSON. */
export function runPython<T>(code: string, args: string[] = []): T {
  const out = execFileSync(PYTHON, ['-c', code, ...args], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const last = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as T;
}

/** Whether a process with this pid exists (a zombie counts). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The bridge a process started: its child running colt_bridge. */
export function bridgeOf(parent: number): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('colt_bridge')) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

/** The one `colt: error:` line a bad input gets, with exit code 2 and no stack trace; returns it. */
export function expectOneErrorLine(run: Finished, problem: RegExp): string {
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^colt: error: /);
  expect(lines[0]).toMatch(problem);
  expect(run.code).toBe(2);
  return lines[0];
}
