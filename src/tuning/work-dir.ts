// The work dir holds the database and the summary. Checked before anything starts, so a bad
// path costs the user a second, not a TVM start-up.
import fs from 'node:fs';
import path from 'node:path';

import { Code, ColtError } from '../errors';

const REASONS: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'it exists and is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  ENOENT: 'a directory cannot be made there',
};

/**
 * mkdir -p, one level at a time. Node's recursive mkdir retries ENOENT for as long as it gets
 * it, and under /proc it always does: a synchronous loop that no signal interrupts.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let at = path.resolve(dir); !fs.existsSync(at); at = path.dirname(at)) {
    missing.push(at);
    if (path.dirname(at) === at) break;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      // Made meanwhile by someone else: fine, if it is a directory (checked by the caller).
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Creates the directory if needed and proves a file can be written in it. */
export function ensureWritableWorkDir(dir: string): void {
  try {
    makeDirs(dir);
    if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'EEXIST' });
    const probe = path.join(dir, `.colt-write-probe-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const reason = REASONS[code] ?? (err as Error).message;
    throw new ColtError(Code.InvalidArgument, `work dir ${dir} is not writable: ${reason}`);
  }
}
