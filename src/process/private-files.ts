// Where a daemon keeps its socket and token: a directory only its user can enter (0700, owned
// by us: refused otherwise, never "fixed"), and token files only its user can read (0600).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { isWellFormedToken } from '../config/auth';
import { Code, ColtError } from '../errors';

/** $XDG_RUNTIME_DIR/colt, else <tmp>/colt-<uid>: the per-user folder of the default socket. */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'colt');
  return path.join(os.tmpdir(), `colt-${process.getuid?.() ?? 'user'}`);
}

/** The daemon's default socket. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(runtimeDir(env), 'daemon.sock');
}

/** The token file of a daemon on a Unix socket: next to it, `<name>.token`. */
export function tokenFileForSocket(socketPath: string): string {
  const base = path.basename(socketPath).replace(/\.sock$/, '');
  return path.join(path.dirname(socketPath), `${base}.token`);
}

/** The token file of a daemon on a TCP port, in the per-user folder. */
export function tokenFileForPort(port: number, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(runtimeDir(env), `tcp-${port}.token`);
}

const mode = (m: number): string => (m & 0o777).toString(8).padStart(4, '0');

/** Creates `dir` (mode 0700) if missing; refuses one that is not ours or that others may enter. */
export function ensurePrivateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') throw new ColtError(Code.FailedPrecondition, `cannot create ${dir}: ${(err as Error).message}`);
  }
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory()) throw new ColtError(Code.FailedPrecondition, `${dir} is not a directory: remove it, or choose another place`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new ColtError(Code.FailedPrecondition, `${dir} belongs to another user (uid ${stat.uid}): choose another place`);
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new ColtError(
      Code.FailedPrecondition,
      `${dir} is open to other users (mode ${mode(stat.mode)}): \`chmod 700 ${dir}\`, or choose another place`,
    );
  }
}

/** Writes the token into `file` with mode 0600 (a fresh file renamed into place). */
export function writeTokenFile(file: string, token: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, `${token}\n`);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Reads a token file, refusing one others may read or that holds no token. */
export function readTokenFile(file: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new ColtError(Code.InvalidArgument, `cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!stat.isFile()) throw new ColtError(Code.InvalidArgument, `token file ${file} is not a file`);
  if ((stat.mode & 0o077) !== 0) {
    throw new ColtError(Code.InvalidArgument, `token file ${file} is open to other users (mode ${mode(stat.mode)}): \`chmod 600 ${file}\``);
  }
  // Only the first line, and never its bytes in an error.
  const token = fs.readFileSync(file, 'utf8').split('\n')[0].trim();
  if (!isWellFormedToken(token)) {
    throw new ColtError(Code.InvalidArgument, `token file ${file} holds no token (16 to 512 printable characters, no spaces)`);
  }
  return token;
}

/**
 * Makes way for a socket at `socketPath`: a stale one (nobody answers) is removed; a live one, or
 * anything that is not a socket, is refused.
 */
export async function clearStaleSocket(socketPath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new ColtError(Code.FailedPrecondition, `${socketPath} exists and is not a socket: remove it, or choose another place`);
  const live = await new Promise<boolean>((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (live) throw new ColtError(Code.FailedPrecondition, `a daemon already listens on unix:${socketPath}: stop it, or choose another --listen`);
  fs.rmSync(socketPath, { force: true });
}
