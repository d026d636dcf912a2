// Attacks on `colt daemon` tried for real from another process (this one): without its token,
// or with a wrong one, every Tuner call is refused UNAUTHENTICATED and only health answers; the
// socket's folder is 0700 and the token file 0600; a folder or token file open to others is
// refused at start with one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';

import { PROTO_LOADER_OPTIONS } from '../../src/bridge/client';
import type { TunerClient } from '../../src/generated/colt/v1/Tuner';
import type { ProtoGrpcType } from '../../src/generated/tuner';
import { ensureBuilt, REPO, runColt, startColt, userEnv, type Running } from '../cli/colt-process';

interface Ready {
  address: string;
  tokenFile: string;
  line: string;
}

let tmp: string;
let proto: ProtoGrpcType;

function daemonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = userEnv({ XDG_RUNTIME_DIR: tmp, ...extra });
  if (!('COLT_TOKEN' in extra)) delete env.COLT_TOKEN;
  return env;
}

function ready(daemon: Running): Promise<Ready> {
  return new Promise<Ready>((resolve, reject) => {
    daemon.onLine((line) => {
      const m = /^COLT_DAEMON_READY address=(\S+) pid=\d+ token_file=(\S+)$/.exec(line);
      if (m) resolve({ address: m[1], tokenFile: m[2], line });
    });
    void daemon.done.then((f) => reject(new Error(`the daemon exited (${f.code}) before it was ready: ${f.stderr}`)));
  });
}

async function stop(daemon: Running): Promise<void> {
  if (daemon.child.exitCode === null) daemon.child.kill('SIGTERM');
  await daemon.done;
}

function metadataWith(token: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

type Outcome = { code: grpc.status; details: string };

/** Calls each Tuner method once with `token` (or none); the status each ended with. */
async function tryEveryCall(client: TunerClient, token: string | undefined): Promise<Record<string, Outcome>> {
  const unary = (name: string, request: object): Promise<Outcome> =>
    new Promise((resolve) => {
      const method = (client as unknown as Record<string, Function>)[name];
      method.call(client, request, metadataWith(token), { deadline: Date.now() + 60_000 }, (err: grpc.ServiceError | null) =>
        resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' }),
      );
    });
  const stream = (name: string, request: object): Promise<Outcome> =>
    new Promise((resolve) => {
      const method = (client as unknown as Record<string, Function>)[name];
      const call = method.call(client, request, metadataWith(token)) as grpc.ClientReadableStream<unknown>;
      call.on('data', () => undefined);
      call.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, details: err.details }));
      call.on('end', () => resolve({ code: grpc.status.OK, details: '' }));
    });
  const job = { job_id: 'nope' };
  return {
    Tune: await stream('Tune', { workload: 'NOPE:1', no_llm: true, work_dir: path.join(tmp, 'attack') }),
    Watch: await stream('Watch', job),
    ListJobs: await unary('ListJobs', {}),
    GetJob: await unary('GetJob', job),
    CancelJob: await unary('CancelJob', job),
    StartSearch: await unary('StartSearch', { bridge_address: '127.0.0.1:1', task_id: 't', max_trials: 4, trials_per_iter: 2, no_llm: true }),
    NextBatch: await unary('NextBatch', job),
    EndSearch: await unary('EndSearch', job),
  };
}

function tuner(address: string): TunerClient {
  return new proto.colt.v1.Tuner(address, grpc.credentials.createInsecure());
}

async function healthOf(address: string): Promise<string> {
  const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
  const health = new Health(address, grpc.credentials.createInsecure()) as unknown as {
    check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
    close(): void;
  };
  try {
    return await new Promise<string>((resolve, reject) =>
      health.check({ service: 'colt.v1.Tuner' }, (err, r) => (err ? reject(err) : resolve(r.status))),
    );
  } finally {
    health.close();
  }
}

function expectAllRefused(outcomes: Record<string, Outcome>): void {
  for (const [name, outcome] of Object.entries(outcomes)) {
    expect([name, outcome.code]).toEqual([name, grpc.status.UNAUTHENTICATED]);
    expect(outcome.details).toContain(`${name}: this daemon needs its token`);
  }
}

const mode = (file: string): number => fs.statSync(file).mode & 0o777;

beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-auth-'));
  const definition = protoLoader.loadSync(path.join(REPO, 'proto', 'colt', 'v1', 'tuner.proto'), PROTO_LOADER_OPTIONS);
  proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('on its default Unix socket', () => {
  let daemon: Running;
  let at: Ready;
  let client: TunerClient;

  beforeAll(async () => {
    daemon = startColt(['daemon'], { env: daemonEnv() });
    at = await ready(daemon);
    client = tuner(at.address);
  });

  afterAll(async () => {
    client?.close();
    await stop(daemon);
  });

  test('lives in a 0700 folder of its own, its token in a 0600 file next to it, never printed', () => {
    const dir = path.join(tmp, 'colt');
    expect(at.address).toBe(`unix:${path.join(dir, 'daemon.sock')}`);
    expect(at.tokenFile).toBe(path.join(dir, 'daemon.token'));
    expect(mode(dir)).toBe(0o700);
    expect(mode(at.tokenFile)).toBe(0o600);
    const token = fs.readFileSync(at.tokenFile, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(at.line).not.toContain(token);
  });

  test('refuses every Tuner call without the token, or with a wrong one; health answers anyone', async () => {
    expectAllRefused(await tryEveryCall(client, undefined));
    expectAllRefused(await tryEveryCall(client, 'f'.repeat(64)));
    expect(await healthOf(at.address)).toBe('SERVING');
  });

  test('with the token the same calls reach the service', async () => {
    const token = fs.readFileSync(at.tokenFile, 'utf8').trim();
    const outcomes = await tryEveryCall(client, token);
    expect(outcomes.ListJobs.code).toBe(grpc.status.OK);
    expect(outcomes.GetJob).toEqual({ code: grpc.status.NOT_FOUND, details: 'no job "nope"' });
    expect(outcomes.CancelJob.code).toBe(grpc.status.NOT_FOUND);
    expect(outcomes.NextBatch.code).toBe(grpc.status.NOT_FOUND);
    expect(outcomes.StartSearch.details).toMatch(/cannot reach the bridge at 127\.0\.0\.1:1/);
    expect(outcomes.Tune.code).toBe(grpc.status.OK); // the job started, and failed on its workload
  });

  test('a second daemon on the same socket is refused, and the first keeps serving', async () => {
    const second = await runColt(['daemon'], { env: daemonEnv() });
    expect(second.code).toBe(2);
    expect(second.stderr.trim()).toMatch(/^colt: error: a daemon already listens on unix:\S+daemon\.sock/);
    expect(await healthOf(at.address)).toBe('SERVING');
  });
});

test('on TCP with $COLT_TOKEN: the same token rules, the token file in the per-user folder, removed at exit', async () => {
  const token = 'a1'.repeat(32);
  const daemon = startColt(['daemon', '--listen', '127.0.0.1:0'], { env: daemonEnv({ COLT_TOKEN: token }) });
  try {
    const at = await ready(daemon);
    const port = /^127\.0\.0\.1:(\d+)$/.exec(at.address)?.[1];
    expect(port).toBeDefined();
    expect(at.tokenFile).toBe(path.join(tmp, 'colt', `tcp-${port}.token`));
    expect(fs.readFileSync(at.tokenFile, 'utf8').trim()).toBe(token);
    expect(mode(at.tokenFile)).toBe(0o600);
    const client = tuner(at.address);
    try {
      expectAllRefused(await tryEveryCall(client, undefined));
      expect((await tryEveryCall(client, token)).ListJobs.code).toBe(grpc.status.OK);
    } finally {
      client.close();
    }
    await stop(daemon);
    expect(fs.existsSync(at.tokenFile)).toBe(false);
  } finally {
    await stop(daemon);
  }
});

test('a socket folder or a token file open to other users is refused with one line', async () => {
  const open = path.join(tmp, 'open');
  fs.mkdirSync(open, { mode: 0o755 });
  fs.chmodSync(open, 0o755);
  const byDir = await runColt(['daemon', '--listen', `unix:${path.join(open, 'd.sock')}`], { env: daemonEnv() });
  expect(byDir.code).toBe(2);
  expect(byDir.stderr.trim()).toBe(`colt: error: ${open} is open to other users (mode 0755): \`chmod 700 ${open}\`, or choose another place`);
  expect(fs.existsSync(path.join(open, 'd.sock'))).toBe(false);

  const tokenFile = path.join(tmp, 'token');
  fs.writeFileSync(tokenFile, `${'b2'.repeat(32)}\n`, { mode: 0o644 });
  fs.chmodSync(tokenFile, 0o644);
  const byFile = await runColt(['daemon', '--token-file', tokenFile, '--listen', '127.0.0.1:0'], { env: daemonEnv() });
  expect(byFile.code).toBe(2);
  expect(byFile.stderr.trim()).toBe(`colt: error: token file ${tokenFile} is open to other users (mode 0644): \`chmod 600 ${tokenFile}\``);
  expect(byFile.stderr).not.toContain('b2b2');
});
