// Whether a process is still the one we mean. A pid alone is not enough: after a process dies
// its pid is handed out again, and `kill(pid, 0)` then answers for a stranger (EPERM when the
// stranger is another user's). So a process is named by its pid and its start time (clock ticks
// since boot, /proc/<pid>/stat field 22), and it is alive while that pair still names one.

import fs from 'node:fs';

/** A process as it was when we first looked: the pid and when it started ('' where /proc cannot tell). */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** Fields of /proc/<pid>/stat after the command name; undefined when there is no such process. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The process's start time; '' where /proc cannot tell (no such process, no /proc). */
export function processStartTime(pid: number): string {
  return statFields(pid)?.[19] ?? '';
}

/** Names a running process for later sameProcess() checks. */
export function identify(pid: number): ProcessIdentity {
  return { pid, startTime: processStartTime(pid) };
}

/**
 * Whether `pid` still names the process that started at `startTime`: it exists (ours or
 * another user's), has not exited (a zombie has), and started then. An unknown start time on
 * either side (no /proc) falls back to the pid alone.
 */
export function sameProcess(pid: number, startTime: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: a process exists under another user; whether it is ours, the start time says.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const fields = statFields(pid);
  // Gone between the two looks, unless this system has no /proc to look in.
  if (!fields) return !fs.existsSync('/proc/self/stat');
  if (fields[0] === 'Z' || fields[0] === 'X') return false;
  return startTime === '' || fields[19] === startTime;
}
