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
};

/** Creates the directory if needed and proves a file can be written in it. */
export function ensureWritableWorkDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
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
