// NextBatch honours cancellation: a call whose deadline passes, or whose answer never reaches
// its client, hands its batch back; the client's retry gets it (never "already waiting"), and
// the search ends with its whole budget. A real daemon process, a real bridge holding the task.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import crypto from 'node:crypto';

import { BridgeClient, PROTO_LOADER_OPTIONS } from '../../src/bridge/client';
import type { Job__Output } from '../../src/generated/colt/v1/Job';
import type { NextBatchResponse__Output } from '../../src/generated/colt/v1/NextBatchResponse';
import type { TunerClient } from '../../src/generated/colt/v1/Tuner';
import type { ProtoGrpcType } from '../../src/generated/tuner';
import { ensureBuilt, PYTHON, REPO, startColt, type Running } from '../cli/colt-process';

let daemon: Running;
let client: TunerClient;
/** The bridge the client hosts around its task, as colt_tvm starts one. */
let bridge: { child: ChildProcess; address: string; token: string; client: BridgeClient };
let tmp: string;
let metadata: grpc.Metadata;

/** Dials the daemon as its user would: with its token (from the token file its READY line names) when it has one. */
function dial(ready: string): { client: TunerClient; metadata: grpc.Metadata } {
  const m = /address=(\S+)/.exec(ready) as RegExpExecArray;
  const tokenFile = /token_file=(\S+)/.exec(ready)?.[1];
  const meta = new grpc.Metadata();
  if (tokenFile) meta.set('authorization', `Bearer ${fs.readFileSync(tokenFile, 'utf8').trim()}`);
  const definition = protoLoader.loadSync(path.join(REPO, 'proto', 'colt', 'v1', 'tuner.proto'), PROTO_LOADER_OPTIONS);
  const proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  return { client: new proto.colt.v1.Tuner(m[1], grpc.credentials.createInsecure()), metadata: meta };
}

/** Starts a bridge as a client hosts one: its token on stdin, its address from its READY line. */
async function hostBridge(): Promise<typeof bridge> {
  const token = crypto.randomBytes(32).toString('hex');
  const child = spawn(PYTHON, ['-m', 'colt_bridge', '--host', '127.0.0.1', '--port', '0', '--parent-pid', String(process.pid)], {
    cwd: path.join(REPO, 'python-bridge'),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin?.end(`${token}\n`);
  const port = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const m = /^COLT_BRIDGE_READY port=(\d+)/.exec(line);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`the bridge exited (${code}) before it was ready`)));
  });
  const address = `127.0.0.1:${port}`;
  return { child, address, token, client: new BridgeClient(address, { token }) };
}

/** StartSearch's metadata: the daemon's token and the token of the bridge the client hosts. */
function bridgeMetadata(): grpc.Metadata {
  const meta = metadata.clone();
  meta.set('colt-bridge-token', bridge.token);
  return meta;
}

function call<Req, Res>(
  name: 'StartSearch' | 'NextBatch' | 'EndSearch' | 'GetJob',
  req: Req,
  options: { deadlineMs?: number; meta?: grpc.Metadata } = {},
): Promise<Res> {
  const method = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
  const callOptions: grpc.CallOptions = options.deadlineMs ? { deadline: Date.now() + options.deadlineMs } : {};
  return new Promise((resolve, reject) => {
    method.call(client, req, options.meta ?? metadata, callOptions, (err: grpc.ServiceError | null, res?: Res) => (err ? reject(err) : resolve(res as Res)));
  });
}

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-nextbatch-'));
  daemon = startColt(['daemon', '--listen', '127.0.0.1:0']);
  const ready = await new Promise<string>((resolve, reject) => {
    daemon.onLine((line) => {
      if (line.startsWith('COLT_DAEMON_READY ')) resolve(line);
    });
    void daemon.done.then((f) => reject(new Error(`the daemon exited (${f.code}) before it was ready: ${f.stderr}`)));
  });
  ({ client, metadata } = dial(ready));
  bridge = await hostBridge();
}, 300_000);

afterAll(async () => {
  client?.close();
  bridge?.client.close();
  if (bridge && bridge.child.exitCode === null) {
    const exited = new Promise((resolve) => bridge.child.once('exit', resolve));
    bridge.child.kill('SIGTERM');
    await exited;
  }
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGKILL');
    await daemon.done;
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a NextBatch past its deadline hands its batch back; the retry gets it and nothing is lost', async () => {
  const task = await bridge.client.openTask({
    workload: 'GMM:0',
    target_json: JSON.stringify({ kind: 'llvm', 'num-cores': 1 }),
    work_dir: path.join(tmp, 'run'),
    seed: 0,
    cost_model: 'xgb',
  });
  const budget = 4;
  const job = await call<object, Job__Output>(
    'StartSearch',
    { bridge_address: bridge.address, task_id: task.task_id, max_trials: budget, trials_per_iter: 2, no_llm: true, seed: 1 },
    { meta: bridgeMetadata() },
  );

  // The first calls give up, most likely before the population is sampled (a short deadline);
  // one that gets a batch stands for an answer lost on the way. Either way nothing may be lost.
  let first: NextBatchResponse__Output | undefined;
  for (let i = 0; i < 3 && !first; i++) {
    first = await call<object, NextBatchResponse__Output>('NextBatch', { job_id: job.job_id, results: [] }, { deadlineMs: 500 }).catch(
      (err: grpc.ServiceError) => {
        // Never "already waiting": the call before it stopped waiting at its deadline.
        expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
        return undefined;
      },
    );
  }
  // A batch whose answer is lost on the way (the client got nothing): the retry, with no results, gets it again.
  const retry = await call<object, NextBatchResponse__Output>('NextBatch', { job_id: job.job_id, results: [] });
  expect(retry.done).toBe(false);
  expect(retry.trace_json.length).toBeGreaterThan(0);
  if (first) expect(retry.trace_json).toEqual(first.trace_json);
  const again = await call<object, NextBatchResponse__Output>('NextBatch', { job_id: job.job_id, results: [] });
  expect(again.trace_json).toEqual(retry.trace_json);

  // Measured (results made up: the daemon only carries them) to the end of the budget.
  const measured: string[] = [];
  let batch = again;
  while (!batch.done) {
    measured.push(...batch.trace_json);
    const results = batch.trace_json.map((trace_json) => ({ trace_json, run_secs: [1e-3 * (1 + measured.length)], error: '' }));
    batch = await call<object, NextBatchResponse__Output>('NextBatch', { job_id: job.job_id, results });
  }
  const ended = await call<object, Job__Output>('EndSearch', { job_id: job.job_id, results: [] });
  expect(ended).toMatchObject({ state: 'SUCCEEDED', trials: budget });
  // Each schedule handed out once after the retry, none twice.
  expect(measured).toHaveLength(budget);
  expect(new Set(measured).size).toBe(budget);
}, 1_200_000);
