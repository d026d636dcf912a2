// `colt daemon` as a client sees it: a real daemon process, real gRPC (the Tuner service and the
// standard health service), real TVM bridges tuning on this CPU.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';

import { PROTO_LOADER_OPTIONS } from '../../src/bridge/client';
import type { Job__Output } from '../../src/generated/colt/v1/Job';
import type { JobEvent__Output } from '../../src/generated/colt/v1/JobEvent';
import type { TuneRequest } from '../../src/generated/colt/v1/TuneRequest';
import type { TunerClient } from '../../src/generated/colt/v1/Tuner';
import type { ProtoGrpcType } from '../../src/generated/tuner';
import { ensureBuilt, REPO, startColt, userEnv, type Running } from '../cli/colt-process';

const BUNDLED = path.join(REPO, 'python-bridge', 'colt_bridge', 'cost_models', 'llvm-x86_64.npz');
let daemon: Running;
let address: string;
let client: TunerClient;
let tmp: string;

function unary<Req, Res>(method: (req: Req, cb: (err: grpc.ServiceError | null, res?: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, (err, res) => (err ? reject(err) : resolve(res as Res)));
  });
}

/** Sends the daemon's token with every call, as colt_tvm does. */
function withToken(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

/** Runs a Tune call to its end; onEvent sees each event as it comes. */
function tuneCall(request: TuneRequest, onEvent: (e: JobEvent__Output) => void = () => undefined): Promise<JobEvent__Output[]> {
  return new Promise((resolve, reject) => {
    const events: JobEvent__Output[] = [];
    const call = client.Tune(request);
    call.on('data', (e: JobEvent__Output) => {
      events.push(e);
      onEvent(e);
    });
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
}

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-daemon-'));
  // Its token file goes to a per-user folder of this test's own.
  const env = userEnv({ XDG_RUNTIME_DIR: tmp });
  delete env.COLT_TOKEN;
  daemon = startColt(['daemon', '--listen', '127.0.0.1:0'], { env });
  let tokenFile = '';
  address = await new Promise<string>((resolve, reject) => {
    daemon.onLine((line) => {
      const m = /^COLT_DAEMON_READY address=(\S+) pid=(\d+) token_file=(\S+)$/.exec(line);
      if (m) {
        tokenFile = m[3];
        resolve(m[1]);
      }
    });
    void daemon.done.then((f) => reject(new Error(`the daemon exited (${f.code}) before it was ready: ${f.stderr}`)));
  });
  const definition = protoLoader.loadSync(path.join(REPO, 'proto', 'colt', 'v1', 'tuner.proto'), PROTO_LOADER_OPTIONS);
  const proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  const token = fs.readFileSync(tokenFile, 'utf8').trim();
  client = new proto.colt.v1.Tuner(address, grpc.credentials.createInsecure(), { interceptors: [withToken(token)] });
});

afterAll(async () => {
  client?.close();
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGKILL');
    await daemon.done;
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('listens on loopback and answers the standard health check', async () => {
  expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
  const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
  const health = new Health(address, grpc.credentials.createInsecure()) as unknown as {
    check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
    close(): void;
  };
  for (const svc of ['', 'colt.v1.Tuner']) {
    const res = await new Promise<{ status: string }>((resolve, reject) =>
      health.check({ service: svc }, (err, r) => (err ? reject(err) : resolve(r))),
    );
    expect(res.status).toBe('SERVING');
  }
  health.close();
});

test('bad requests are refused with one clear line and the right status', async () => {
  await expect(tuneCall({ workload: 'GMM:0', trials: 0, no_llm: true })).rejects.toMatchObject({
    code: grpc.status.INVALID_ARGUMENT,
    details: expect.stringMatching(/--trials: must be an integer >= 1/),
  });
  await expect(tuneCall({ workload: '', no_llm: true })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  await expect(unary(client.GetJob, { job_id: 'nope' })).rejects.toMatchObject({
    code: grpc.status.NOT_FOUND,
    details: 'no job "nope"',
  });
  await expect(
    unary(client.StartSearch, { bridge_address: '127.0.0.1:1', task_id: 't', max_trials: 4, trials_per_iter: 2, no_llm: true }),
  ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/cannot reach the bridge at 127\.0\.0\.1:1/) });
  // A job that fails after it started ends FAILED with its one line, and the stream ends normally.
  const events = await tuneCall({ workload: 'NOPE:1', no_llm: true, work_dir: path.join(tmp, 'nope') });
  const last = events.at(-1)?.job as Job__Output;
  expect(last.state).toBe('FAILED');
  expect(last.error).toMatch(/unknown workload 'NOPE'/);
  expect(last.exit_code).toBe(2);
  // A cost model file the daemon's host does not have: one line, before anything is tuned.
  const missing = path.join(tmp, 'nowhere.npz');
  const noModel = await tuneCall({ workload: 'GMM:0', trials: 4, no_llm: true, cost_model_file: missing, work_dir: path.join(tmp, 'no-model') });
  const failed = noModel.at(-1)?.job as Job__Output;
  expect(failed).toMatchObject({ state: 'FAILED', exit_code: 2, trials: 0 });
  expect(failed.error).toContain(`cost model ${missing}: no such file`);
  expect(failed.error).not.toContain('\n');
});

test('a Tune request naming a TVMScript file that is not only TVMScript fails in one line, and the payload never runs', async () => {
  const sentinel = path.join(tmp, 'sentinel');
  const file = path.join(tmp, 'evil.py');
  fs.writeFileSync(
    file,
    'from tvm.script import tirx as T\n\n@T.prim_func\ndef main(A: T.Buffer((4,), "float32")):\n' +
      `    T.evaluate(T.evaluate.__globals__["__builtins__"]["__import__"]("pathlib").Path(${JSON.stringify(sentinel)}).write_text("x"))\n`,
  );
  const events = await tuneCall({ workload: file, trials: 4, no_llm: true, work_dir: path.join(tmp, 'evil') });
  const last = events.at(-1)?.job as Job__Output;
  expect(last.state).toBe('FAILED');
  expect(last.error).toMatch(/line 5: .*not allowed in TVMScript/);
  expect(last.error).not.toContain('\n');
  expect(last.exit_code).toBe(2);
  expect(fs.existsSync(sentinel)).toBe(false);
});

test('three concurrent Tune calls keep their own budgets; cancelling one leaves the others alone', async () => {
  const budgets = { a: 4, b: 6, c: 40 };
  let cancelled: Promise<Job__Output> | undefined;
  const runs = Object.entries(budgets).map(([name, trials]) =>
    tuneCall(
      // b runs without the cost model trained beforehand; a and c score beside the bundled one.
      { workload: 'GMM:0', trials, per_iter: 2, no_llm: true, seed: trials, work_dir: path.join(tmp, name), name, ...(name === 'b' ? { cost_model_file: 'none' } : {}) },
      (e) => {
        // The long one is cancelled once its first batch has landed.
        if (name === 'c' && !cancelled && e.job && e.job.trials > 0) cancelled = unary(client.CancelJob, { job_id: e.job.job_id });
      },
    ),
  );
  const [a, b, c] = await Promise.all(runs);
  const final = (events: JobEvent__Output[]) => events.at(-1)?.job as Job__Output;

  for (const [events, name, trials] of [
    [a, 'a', 4],
    [b, 'b', 6],
  ] as const) {
    const job = final(events);
    expect(job).toMatchObject({ name, kind: 'TUNE', state: 'SUCCEEDED', trials, max_trials: trials, exit_code: 0 });
    expect(job.best_latency_us).toBeGreaterThan(0);
    const summary = JSON.parse(job.summary_json) as { trials: number; workDir: string; costModelFile: string | null };
    expect(summary.trials).toBe(trials);
    expect(summary.costModelFile).toBe(name === 'b' ? null : BUNDLED);
    expect(summary.workDir).toBe(path.join(tmp, name));
    expect(fs.existsSync(path.join(tmp, name, 'database_tuning_record.json'))).toBe(true);
    // The stream carried the run's events as `colt tune --json` prints them.
    const types = events.map((e) => (e.event_json ? (JSON.parse(e.event_json) as { type: string }).type : ''));
    expect(types).toEqual(expect.arrayContaining(['task', 'start', 'population', 'measure', 'done', 'summary']));
  }
  expect(cancelled).toBeDefined();
  const c_ = final(c);
  expect(c_.state).toBe('CANCELLED');
  expect(c_.trials).toBeGreaterThan(0);
  expect(c_.trials).toBeLessThan(40);

  const ids = [a, b, c].map((events) => final(events).job_id);
  expect(new Set(ids).size).toBe(3);
  const listed = await unary<object, { jobs: Job__Output[] }>(client.ListJobs, {});
  for (const id of ids) expect(listed.jobs.map((j) => j.job_id)).toContain(id);
  const got = await unary<{ job_id: string }, Job__Output>(client.GetJob, { job_id: ids[1] });
  expect(got).toMatchObject({ state: 'SUCCEEDED', trials: 6 });
});

test('SIGTERM stops the daemon cleanly', async () => {
  daemon.child.kill('SIGTERM');
  const finished = await daemon.done;
  expect(finished.code).toBe(0);
});
