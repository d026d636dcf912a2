// `colt daemon`: the Tuner service (proto/colt/v1/tuner.proto) over one JobManager, and gRPC's
// standard health service. Every job has its own tree, models and budget.
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';

import { PROTO_LOADER_OPTIONS } from '../bridge/client';
import { findRepoRoot, TUNER_PROTO } from '../config/paths';
import { Code, ColtError } from '../errors';
import type { Job as JobMessage } from '../generated/colt/v1/Job';
import type { JobEvent } from '../generated/colt/v1/JobEvent';
import type { NextBatchRequest__Output } from '../generated/colt/v1/NextBatchRequest';
import type { StartSearchRequest__Output } from '../generated/colt/v1/StartSearchRequest';
import type { TuneRequest__Output } from '../generated/colt/v1/TuneRequest';
import type { TunerHandlers } from '../generated/colt/v1/Tuner';
import type { ProtoGrpcType } from '../generated/tuner';
import { JobManager, type ClientResult, type Job, type JobEnv, type JobView } from '../jobs';
import { formatIssue, parseTuneOptions } from '../options/tune';
import { JsonLinesReporter } from '../reporters';
import { toStatus } from './status';

export const TUNER_SERVICE = 'colt.v1.Tuner';

export function jobMessage(view: JobView): JobMessage {
  return {
    job_id: view.jobId,
    kind: view.kind,
    state: view.state,
    name: view.name,
    workload: view.workload,
    task_name: view.taskName,
    work_dir: view.workDir,
    trials: view.trials,
    max_trials: view.maxTrials,
    best_latency_us: view.bestLatencyUs ?? 0,
    untuned_latency_us: view.untunedLatencyUs ?? 0,
    flop: view.flop,
    models: view.models.map((m) => ({
      name: m.name,
      calls: m.calls,
      errors: m.errors,
      prompt_tokens: m.promptTokens,
      completion_tokens: m.completionTokens,
      money: m.costUsd,
    })),
    error: view.error ?? '',
    exit_code: view.exitCode,
    summary_json: view.summary ? JSON.stringify(view.summary) : '',
    created_at: view.createdAt,
    ended_at: view.endedAt ?? '',
  };
}

/** The TuneRequest as `colt tune`'s raw options: one set of checks and defaults for both. */
export function rawTuneOptions(r: TuneRequest__Output): Record<string, unknown> {
  const raw: Record<string, unknown> = {
    workload: r.workload || undefined,
    target: r.target || undefined,
    trials: r.trials,
    perIter: r.per_iter,
    workDir: r.work_dir || undefined,
    seed: r.seed,
    number: r.number,
    repeat: r.repeat,
    minRepeatMs: r.min_repeat_ms,
    timeout: r.timeout_sec,
    costModel: r.cost_model || undefined,
    models: r.models || undefined,
    llm: !r.no_llm,
    llmBudget: r.llm_budget,
    rpcTracker: r.rpc_tracker || undefined,
    rpcKey: r.rpc_key || undefined,
    rpcPriority: r.rpc_priority,
    rpcSessionTimeout: r.rpc_session_timeout_sec,
    resume: r.resume,
    force: r.force,
    tuningRecords: r.tuning_records || undefined,
  };
  for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key];
  return raw;
}

function resultsOf(request: NextBatchRequest__Output): ClientResult[] {
  return request.results.map((r) => ({ traceJson: r.trace_json, runSecs: r.run_secs, error: r.error }));
}

/** Streams a job's reports (as `colt tune --json` prints them) and its end to a gRPC call. */
function streamJob(job: Job, call: grpc.ServerWritableStream<unknown, JobEvent>): void {
  let open = true;
  const write = (event: JobEvent): void => {
    if (open) call.write(event);
  };
  const reporter = new JsonLinesReporter((line) => write({ job: jobMessage(job.view()), event_json: line }));
  const unwatch = job.watch({
    onTask: (task) => reporter.onTask(task),
    onEvent: (event) => reporter.onEvent(event),
    onSummary: (summary, file) => reporter.onSummary(summary, file),
    onEnd: (view) => {
      write({ job: jobMessage(view), event_json: '' });
      open = false;
      call.end();
    },
  });
  // The client went away: the job goes on (CancelJob stops it).
  call.on('cancelled', () => {
    open = false;
    unwatch();
  });
  if (!job.isRunning) {
    write({ job: jobMessage(job.view()), event_json: '' });
    open = false;
    call.end();
  }
}

export interface DaemonOptions {
  env: JobEnv;
  /** What the `llvm` target shorthand counts. */
  cores: number;
}

export class TunerDaemon {
  readonly jobs: JobManager;
  readonly server = new grpc.Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  readonly health = new HealthImplementation({ '': 'SERVING', [TUNER_SERVICE]: 'SERVING' });

  constructor(private readonly options: DaemonOptions) {
    this.jobs = new JobManager(options.env);
    const definition = protoLoader.loadSync(path.join(findRepoRoot(__dirname), TUNER_PROTO), PROTO_LOADER_OPTIONS);
    const proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
    this.server.addService(proto.colt.v1.Tuner.service, this.handlers());
    this.health.addToServer(this.server);
  }

  /** Listens on host:port (port 0: a free one); resolves to the address bound. */
  listen(address: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
          reject(new Error(`cannot listen on ${address}: ${err.message}`));
          return;
        }
        const host = address.slice(0, address.lastIndexOf(':'));
        resolve(`${host}:${port}`);
      });
    });
  }

  /** Cancels every job, gives them graceMs to end, and stops serving. */
  async stop(graceMs: number): Promise<void> {
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus(TUNER_SERVICE, 'NOT_SERVING');
    await this.jobs.shutdown(graceMs);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2_000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private handlers(): TunerHandlers {
    const { logger } = this.options.env;
    const unary =
      <Req, Res>(name: string, fn: (request: Req) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> =>
      (call, callback) => {
        Promise.resolve()
          .then(() => fn(call.request))
          .then(
            (response) => callback(null, response),
            (err: unknown) => {
              const status = toStatus(err);
              if (status.code === grpc.status.INTERNAL) logger.error(`${name}: ${status.details}`);
              callback(status);
            },
          );
      };
    return {
      Tune: (call) => {
        const parsed = parseTuneOptions(rawTuneOptions(call.request), { cores: this.options.cores });
        if (!parsed.ok) {
          call.emit('error', toStatus(new ColtError(Code.InvalidArgument, parsed.issues.map(formatIssue).join('; '))));
          return;
        }
        const job = this.jobs.startTune(parsed.options, { name: call.request.name });
        logger.info(`job ${job.id}: tuning ${parsed.options.workload} for ${parsed.options.trials} trials`);
        streamJob(job, call);
      },
      Watch: (call) => {
        let job: Job;
        try {
          job = this.jobs.get(call.request.job_id);
        } catch (err) {
          call.emit('error', toStatus(err));
          return;
        }
        if (job.isRunning) call.write({ job: jobMessage(job.view()), event_json: '' });
        streamJob(job, call);
      },
      ListJobs: unary('ListJobs', () => ({ jobs: this.jobs.list().map((j) => jobMessage(j.view())) })),
      GetJob: unary('GetJob', (r: { job_id: string }) => jobMessage(this.jobs.get(r.job_id).view())),
      CancelJob: unary('CancelJob', (r: { job_id: string }) => jobMessage(this.jobs.cancel(r.job_id).view())),
      StartSearch: unary('StartSearch', async (r: StartSearchRequest__Output) => {
        if (!r.bridge_address || !r.task_id) throw new ColtError(Code.InvalidArgument, 'bridge_address and task_id are required');
        if (!(r.max_trials >= 1)) throw new ColtError(Code.InvalidArgument, 'max_trials must be an integer >= 1');
        if (!(r.trials_per_iter >= 1)) throw new ColtError(Code.InvalidArgument, 'trials_per_iter must be an integer >= 1');
        if (r.models && r.no_llm) throw new ColtError(Code.InvalidArgument, 'models cannot be combined with no_llm');
        if (r.llm_budget !== undefined && r.llm_budget < 0) throw new ColtError(Code.InvalidArgument, 'llm_budget must be >= 0');
        const job = await this.jobs.startSearch({
          bridgeAddress: r.bridge_address,
          taskId: r.task_id,
          maxTrials: r.max_trials,
          trialsPerIter: r.trials_per_iter,
          seed: Math.max(0, Math.floor(r.seed)),
          ...(r.models ? { models: r.models } : {}),
          llm: !r.no_llm,
          ...(r.llm_budget !== undefined ? { llmBudget: r.llm_budget } : {}),
          name: r.name || r.task_id,
        });
        return jobMessage(job.view());
      }),
      NextBatch: unary('NextBatch', async (r: NextBatchRequest__Output) => {
        const next = await this.jobs.next(r.job_id, resultsOf(r));
        const job = jobMessage(this.jobs.get(r.job_id).view());
        return next.done ? { trace_json: [], done: true, job } : { trace_json: next.traces, done: false, job };
      }),
      EndSearch: unary('EndSearch', async (r: NextBatchRequest__Output) => jobMessage(await this.jobs.endSearch(r.job_id, resultsOf(r)))),
    };
  }
}
