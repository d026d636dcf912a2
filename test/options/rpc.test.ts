// The flags for RPC devices, resuming and warm starts: parsed purely, every problem by its flag.
import { formatIssue, parseTuneOptions, type TuneOptions } from '../../src/options/tune';

const ctx = { cores: 2 };

function parse(raw: Record<string, unknown>): TuneOptions {
  const parsed = parseTuneOptions({ workload: 'GMM:0', ...raw }, ctx);
  if (!parsed.ok) throw new Error(parsed.issues.map(formatIssue).join('; '));
  return parsed.options;
}

function problems(raw: Record<string, unknown>): string[] {
  const parsed = parseTuneOptions({ workload: 'GMM:0', ...raw }, ctx);
  return parsed.ok ? [] : parsed.issues.map(formatIssue);
}

describe('RPC flags', () => {
  it('take a tracker as host:port with its key, priority 1 and the run timeout by default', () => {
    const options = parse({ rpcTracker: '127.0.0.1:9190', rpcKey: 'cpu' });
    expect(options).toMatchObject({ rpcTracker: { host: '127.0.0.1', port: 9190 }, rpcKey: 'cpu', rpcPriority: 1 });
    expect(options.rpcSessionTimeout).toBeUndefined();
    expect(parse({ rpcTracker: 'board.local:9000', rpcKey: 'rk3399', rpcPriority: '5', rpcSessionTimeout: '12.5' })).toMatchObject({
      rpcTracker: { host: 'board.local', port: 9000 },
      rpcPriority: 5,
      rpcSessionTimeout: 12.5,
    });
    expect(parse({}).rpcTracker).toBeUndefined();
  });

  it.each([
    [{ rpcTracker: '127.0.0.1', rpcKey: 'cpu' }, '--rpc-tracker: must be host:port, e.g. 127.0.0.1:9190 (got "127.0.0.1")'],
    [{ rpcTracker: '127.0.0.1:70000', rpcKey: 'cpu' }, '--rpc-tracker: must be host:port'],
    [{ rpcTracker: '127.0.0.1:9190' }, '--rpc-key: is required with --rpc-tracker'],
    [{ rpcKey: 'cpu' }, '--rpc-tracker: is required with --rpc-key'],
    [{ rpcTracker: '127.0.0.1:9190', rpcKey: 'cpu', rpcSessionTimeout: '0' }, '--rpc-session-timeout: must be a number > 0'],
    [{ maxBridgeRestarts: '-1' }, '--max-bridge-restarts: must be an integer >= 0'],
  ])('%j: %s', (raw, message) => {
    const found = problems(raw);
    expect(found).toHaveLength(1);
    expect(found[0].startsWith(message)).toBe(true);
  });
});

describe('resume and warm-start flags', () => {
  it('default to a fresh run with two bridge restarts allowed', () => {
    expect(parse({})).toMatchObject({ resume: false, maxBridgeRestarts: 2 });
    expect(parse({}).tuningRecords).toBeUndefined();
    expect(parse({ resume: true, tuningRecords: 'runs/old', maxBridgeRestarts: '0' })).toMatchObject({
      resume: true,
      tuningRecords: 'runs/old',
      maxBridgeRestarts: 0,
    });
  });
});
