// `colt daemon` options: where to listen, and whose life to follow.
import { Code, ColtError } from '../errors';

export const DEFAULT_LISTEN = '127.0.0.1:7391';

export interface DaemonCommandOptions {
  listen: string;
  parentPid?: number;
}

const LISTEN = /^(\[[0-9a-fA-F:]+\]|[^\s:[\]]+):(\d{1,5})$/;

export function parseDaemonOptions(raw: Record<string, unknown>): DaemonCommandOptions {
  const listen = typeof raw.listen === 'string' ? raw.listen.trim() : DEFAULT_LISTEN;
  const match = LISTEN.exec(listen);
  if (!match || Number(match[2]) > 65535) {
    throw new ColtError(Code.InvalidArgument, `--listen must be host:port, e.g. 127.0.0.1:7391 (got ${JSON.stringify(listen)})`);
  }
  let parentPid: number | undefined;
  if (raw.parentPid !== undefined) {
    parentPid = Number(raw.parentPid);
    if (!Number.isInteger(parentPid) || parentPid < 1) {
      throw new ColtError(Code.InvalidArgument, `--parent-pid must be a process id (got ${JSON.stringify(raw.parentPid)})`);
    }
  }
  return { listen, ...(parentPid ? { parentPid } : {}) };
}
