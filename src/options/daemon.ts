// `colt daemon` options: where to listen, which token to require, and whose life to follow.
import path from 'node:path';

import { isWellFormedToken, TOKEN_ENV } from '../config/auth';
import { Code, ColtError } from '../errors';
import { defaultSocketPath } from '../process/private-files';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export interface DaemonCommandOptions {
  listen: ListenAddress;
  /** A file holding the token to require (mode 0600); else `token`, else a fresh one. */
  tokenFile?: string;
  /** From $COLT_TOKEN. */
  token?: string;
  parentPid?: number;
}

const TCP = /^(\[[0-9a-fA-F:]+\]|[^\s:[\]/]+):(\d{1,5})$/;
/** Linux's limit on a socket path (sun_path), less its terminating NUL. */
const MAX_SOCKET_PATH = 107;

export const LISTEN_HELP = 'unix:PATH or HOST:PORT';

export function parseListen(text: string, cwd: string): ListenAddress {
  if (text.startsWith('unix:')) {
    const file = path.resolve(cwd, text.slice('unix:'.length));
    if (text.length === 'unix:'.length || file.length > MAX_SOCKET_PATH) {
      throw new ColtError(Code.InvalidArgument, `--listen unix:PATH needs a path of at most ${MAX_SOCKET_PATH} characters`);
    }
    return { kind: 'unix', path: file };
  }
  const match = TCP.exec(text);
  if (!match || Number(match[2]) > 65535) {
    throw new ColtError(Code.InvalidArgument, `--listen must be ${LISTEN_HELP}, e.g. 127.0.0.1:7391 (got ${JSON.stringify(text)})`);
  }
  return { kind: 'tcp', host: match[1], port: Number(match[2]) };
}

/** The address as gRPC names it. */
export function formatListen(listen: ListenAddress): string {
  return listen.kind === 'unix' ? `unix:${listen.path}` : `${listen.host}:${listen.port}`;
}

export function parseDaemonOptions(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): DaemonCommandOptions {
  const listen =
    typeof raw.listen === 'string' ? parseListen(raw.listen.trim(), cwd) : { kind: 'unix' as const, path: defaultSocketPath(env) };
  let parentPid: number | undefined;
  if (raw.parentPid !== undefined) {
    parentPid = Number(raw.parentPid);
    if (!Number.isInteger(parentPid) || parentPid < 1 || parentPid > 2 ** 22) {
      throw new ColtError(Code.InvalidArgument, `--parent-pid must be a process id (got ${JSON.stringify(raw.parentPid)})`);
    }
  }
  const options: DaemonCommandOptions = { listen, ...(parentPid ? { parentPid } : {}) };
  if (typeof raw.tokenFile === 'string') {
    options.tokenFile = path.resolve(cwd, raw.tokenFile);
  } else if (env[TOKEN_ENV] !== undefined) {
    const token = env[TOKEN_ENV].trim();
    if (!isWellFormedToken(token)) {
      throw new ColtError(Code.InvalidArgument, `$${TOKEN_ENV} must be 16 to 512 printable characters without spaces`);
    }
    options.token = token;
  }
  return options;
}
