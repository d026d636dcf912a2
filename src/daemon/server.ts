// `colt daemon`: the Tuner service (proto/colt/v1/tuner.proto) over one JobManager, and gRPC's
// standard health service. Every job has its own tree, models and budget. Every Tuner call must
// carry the daemon's token (src/config/auth.ts); health answers anyone.
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';

import { PROTO_LOADER_OPTIONS } from '../bridge/client';
import { BRIDGE_TOKEN_METADATA_KEY, MESSAGE_LIMITS, TOKEN_METADATA_KEY, tokenOf, tokensEqual } from '../config/auth';
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
import { bucketName } from '../llm';
import type { Logger } from '../log';
import { LIMITS } from '../options/fields';
import { formatIssue, parseTuneOptions } from '../options/tune';
import { JsonLinesReporter } from '../reporters';
import { toStatus } from './status';
import { WatchStream } from './watch-stream';

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
    costModelFile: r.cost_model_file || undefined,
    models: r.models || undefined,
    bucket: r.bucket || undefined,
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
function streamJob(job: Job, call: grpc.ServerWritableStream<unknown, JobEvent>, logger: Logger): void {
  let unwatch = (): void => undefined;
  const stream = new WatchStream<JobEvent>(call, (behind) => {
    unwatch();
    logger.warn(`job ${job.id}: a watcher fell ${behind} events behind and was dropped`);
    call.emit('error', toStatus(new ColtError(Code.ResourceExhausted, `this watcher fell ${behind} events behind: Watch job ${job.id} again`)));
  });
  const reporter = new JsonLinesReporter((line) => stream.write({ job: jobMessage(job.view()), event_json: line }));
  unwatch = job.watch({
    onTask: (task) => reporter.onTask(task),
    onEvent: (event) => reporter.onEvent(event),
    onSummary: (summary, file) => reporter.onSummary(summary, file),
    onEnd: (view) => {
      stream.write({ job: jobMessage(view), event_json: '' });
      stream.end();
    },
  });
  // The client went away: the job goes on (CancelJob stops it).
  call.on('cancelled', () => {
    stream.close();
    unwatch();
  });
  if (!job.isRunning) {
    stream.write({ job: jobMessage(job.view()), event_json: '' });
    stream.end();
  }
}

/** The caller's token, from the call's metadata. */
function tokenFrom(metadata: grpc.Metadata): string | undefined {
  return tokenOf(metadata.get(TOKEN_METADATA_KEY)[0]);
}

/** The token of the bridge a StartSearch client hosts (the bare token). */
function bridgeTokenFrom(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get(BRIDGE_TOKEN_METADATA_KEY)[0];
  const token = typeof value === 'string' ? value.trim() : undefined;
  return token ? token : undefined;
}

type AnyHandler = (call: grpc.ServerUnaryCall<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => void;

/** Every handler behind the token check: the one place the daemon decides who may call it. */
function authenticated(handlers: TunerHandlers, token: string, logger: Logger): TunerHandlers {
  const guarded: Record<string, AnyHandler> = {};
  for (const [name, handler] of Object.entries(handlers) as Array<[string, AnyHandler]>) {
    guarded[name] = (call, callback) => {
      if (tokensEqual(token, tokenFrom(call.metadata))) {
        handler(call, callback);
        return;
      }
      logger.debug(`${name}: refused a call without the daemon's token`);
      const status = toStatus(
        new ColtError(Code.Unauthenticated, `${name}: this daemon needs its token (metadata "${TOKEN_METADATA_KEY}: Bearer <token>", from its token file)`),
      );
      if (callback) callback(status);
      else call.emit('error', status);
    };
  }
  return guarded as unknown as TunerHandlers;
}

export interface DaemonOptions {
  env: JobEnv;
  /** What the `llvm` target shorthand counts. */
  cores: number;
  /** What every Tuner call must carry. */
  token: string;
}

export class TunerDaemon {
  readonly jobs: JobManager;
  readonly server = new grpc.Server({ ...MESSAGE_LIMITS });
  readonly health = new HealthImplementation({ '': 'SERVING', [TUNER_SERVICE]: 'SERVING' });

  constructor(private readonly options: DaemonOptions) {
    this.jobs = new JobManager(options.env);
    const definition = protoLoader.loadSync(path.join(findRepoRoot(__dirname), TUNER_PROTO), PROTO_LOADER_OPTIONS);
    const proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
    this.server.addService(proto.colt.v1.Tuner.service, authenticated(this.handlers(), options.token, options.env.logger));
    this.health.addToServer(this.server);
  }

  /** Listens on host:port (port 0: a free one) or unix:PATH; resolves to the address bound. */
  listen(address: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
          reject(new Error(`cannot listen on ${address}: ${err.message}`));
          return;
        }
        if (address.startsWith('unix:')) {
          resolve(address);
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
      <Req, Res>(name: string, fn: (request: Req, metadata: grpc.Metadata) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> =>
      (call, callback) => {
        Promise.resolve()
          .then(() => fn(call.request, call.metadata))
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
        let job: Job;
        try {
          job = this.jobs.startTune(parsed.options, { name: call.request.name });
        } catch (err) {
          call.emit('error', toStatus(err)); // RESOURCE_EXHAUSTED: every place taken
          return;
        }
        logger.info(`job ${job.id}: tuning ${parsed.options.workload} for ${parsed.options.trials} trials`);
        streamJob(job, call, logger);
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
        streamJob(job, call, logger);
      },
      ListJobs: unary('ListJobs', () => ({ jobs: this.jobs.list().map((j) => jobMessage(j.view())) })),
      GetJob: unary('GetJob', (r: { job_id: string }) => jobMessage(this.jobs.get(r.job_id).view())),
      CancelJob: unary('CancelJob', (r: { job_id: string }) => jobMessage(this.jobs.cancel(r.job_id).view())),
      StartSearch: unary('StartSearch', async (r: StartSearchRequest__Output, metadata) => {
        if (!r.bridge_address || !r.task_id) throw new ColtError(Code.InvalidArgument, 'bridge_address and task_id are required');
        if (!(r.max_trials >= 1 && r.max_trials <= LIMITS.trials)) {
          throw new ColtError(Code.InvalidArgument, `max_trials must be an integer >= 1 and <= ${LIMITS.trials}`);
        }
        if (!(r.trials_per_iter >= 1 && r.trials_per_iter <= LIMITS.perIter)) {
          throw new ColtError(Code.InvalidArgument, `trials_per_iter must be an integer >= 1 and <= ${LIMITS.perIter}`);
        }
        if (r.models && r.no_llm) throw new ColtError(Code.InvalidArgument, 'models cannot be combined with no_llm');
        if (r.bucket && (r.models || r.no_llm)) throw new ColtError(Code.InvalidArgument, 'bucket cannot be combined with models or no_llm');
        if (r.llm_budget !== undefined && r.llm_budget < 0) throw new ColtError(Code.InvalidArgument, 'llm_budget must be >= 0');
        const job = await this.jobs.startSearch({
          bridgeAddress: r.bridge_address,
          // The client's hosted bridge refuses calls without its own token.
          bridgeToken: bridgeTokenFrom(metadata),
          taskId: r.task_id,
          maxTrials: r.max_trials,
          trialsPerIter: r.trials_per_iter,
          seed: Math.max(0, Math.floor(r.seed)),
          ...(r.models ? { models: r.models } : {}),
          ...(r.bucket ? { bucket: bucketName(r.bucket) } : {}),
          llm: !r.no_llm,
          ...(r.llm_budget !== undefined ? { llmBudget: r.llm_budget } : {}),
          name: r.name || r.task_id,
        });
        return jobMessage(job.view());
      }),
      NextBatch: (call, callback) => {
        // A call whose deadline passes or whose client goes away stops waiting; a batch it took
        // but could not deliver goes back to be handed out again (src/jobs/search-job.ts).
        // grpc-js also emits 'cancelled' after a call it answered: that one is not cancelled.
        const abort = new AbortController();
        let answered = false;
        call.on('cancelled', () => answered || abort.abort());
        const ms = new Date(call.getDeadline()).getTime() - Date.now();
        const timer = Number.isFinite(ms) ? setTimeout(() => abort.abort(), Math.max(0, ms)) : undefined;
        unary('NextBatch', async (r: NextBatchRequest__Output) => {
          const next = await this.jobs.next(r.job_id, resultsOf(r), abort.signal);
          const job = jobMessage(this.jobs.get(r.job_id).view());
          return next.done ? { trace_json: [], done: true, job } : { trace_json: next.traces, done: false, job };
        })(call, (err, response) => {
          clearTimeout(timer);
          // An answer to a call already cancelled reaches nobody.
          if (call.cancelled) abort.abort();
          else answered = true;
          callback(err, response);
        });
      },
      EndSearch: unary('EndSearch', async (r: NextBatchRequest__Output) => jobMessage(await this.jobs.endSearch(r.job_id, resultsOf(r)))),
    };
  }
}
