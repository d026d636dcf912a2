// A promise-based client for the bridge's gRPC service. Every call has a deadline, and every
// failure comes out as a ColtError (its code from the gRPC status, its rpc in details).
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { bearer, MESSAGE_LIMITS, TOKEN_METADATA_KEY } from '../config/auth';
import { BRIDGE_PROTO, findRepoRoot } from '../config/paths';
import type { ProtoGrpcType } from '../generated/bridge';
import type { BridgeClient as GeneratedStub } from '../generated/colt/v1/Bridge';
import type { ApplyRequest } from '../generated/colt/v1/ApplyRequest';
import type { ApplyResponse__Output } from '../generated/colt/v1/ApplyResponse';
import type { CloseTaskRequest } from '../generated/colt/v1/CloseTaskRequest';
import type { CloseTaskResponse__Output } from '../generated/colt/v1/CloseTaskResponse';
import type { CommitRequest } from '../generated/colt/v1/CommitRequest';
import type { CommitResponse__Output } from '../generated/colt/v1/CommitResponse';
import type { DescribeRequest } from '../generated/colt/v1/DescribeRequest';
import type { DescribeResponse__Output } from '../generated/colt/v1/DescribeResponse';
import type { GetTaskRequest } from '../generated/colt/v1/GetTaskRequest';
import type { HealthRequest } from '../generated/colt/v1/HealthRequest';
import type { HealthResponse__Output } from '../generated/colt/v1/HealthResponse';
import type { ListRecordsRequest } from '../generated/colt/v1/ListRecordsRequest';
import type { ListRecordsResponse__Output } from '../generated/colt/v1/ListRecordsResponse';
import type { MeasureRequest } from '../generated/colt/v1/MeasureRequest';
import type { MeasureResponse__Output } from '../generated/colt/v1/MeasureResponse';
import type { MeasureUntunedRequest } from '../generated/colt/v1/MeasureUntunedRequest';
import type { OpenTaskRequest } from '../generated/colt/v1/OpenTaskRequest';
import type { OpenTaskResponse__Output } from '../generated/colt/v1/OpenTaskResponse';
import type { PredictRequest } from '../generated/colt/v1/PredictRequest';
import type { PredictResponse__Output } from '../generated/colt/v1/PredictResponse';
import type { SampleInitialRequest } from '../generated/colt/v1/SampleInitialRequest';
import type { SampleInitialResponse__Output } from '../generated/colt/v1/SampleInitialResponse';
import { Code, ColtError } from '../errors';

/** Request and response types per RPC, as the generated code names them. */
interface Rpcs {
  Health: [HealthRequest, HealthResponse__Output];
  OpenTask: [OpenTaskRequest, OpenTaskResponse__Output];
  SampleInitial: [SampleInitialRequest, SampleInitialResponse__Output];
  Apply: [ApplyRequest, ApplyResponse__Output];
  Predict: [PredictRequest, PredictResponse__Output];
  Describe: [DescribeRequest, DescribeResponse__Output];
  Measure: [MeasureRequest, MeasureResponse__Output];
  Commit: [CommitRequest, CommitResponse__Output];
  MeasureUntuned: [MeasureUntunedRequest, MeasureResponse__Output];
  ListRecords: [ListRecordsRequest, ListRecordsResponse__Output];
  CloseTask: [CloseTaskRequest, CloseTaskResponse__Output];
  GetTask: [GetTaskRequest, OpenTaskResponse__Output];
}
type RpcName = keyof Rpcs;

/**
 * Default deadlines. Generous: design-space generation and measuring take seconds to minutes
 * on a small CPU, and a bridge that dies is noticed at once (UNAVAILABLE), not at the deadline.
 */
export const DEFAULT_DEADLINES_MS: Record<RpcName, number> = {
  Health: 10_000,
  OpenTask: 10 * 60_000,
  SampleInitial: 5 * 60_000,
  Apply: 2 * 60_000,
  Predict: 5 * 60_000,
  // Replays and prints a few traces for a prompt: quick, and a prompt does without it.
  Describe: 60_000,
  Measure: 60 * 60_000,
  Commit: 60_000,
  MeasureUntuned: 30 * 60_000,
  // Replays every record of a large database and may train the cost model on them.
  ListRecords: 10 * 60_000,
  CloseTask: 60_000,
  // Samples and checks each design space once.
  GetTask: 5 * 60_000,
};

export interface CallOptions {
  deadlineMs?: number;
}

/** The same options `npm run gen` generated the types with, so runtime shapes match them. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cachedProto: ProtoGrpcType | undefined;

function loadProto(): ProtoGrpcType {
  if (!cachedProto) {
    const file = path.join(findRepoRoot(__dirname), BRIDGE_PROTO);
    const definition = protoLoader.loadSync(file, PROTO_LOADER_OPTIONS);
    cachedProto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cachedProto;
}

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

export interface BridgeClientOptions {
  /** The bridge's token, sent with every call; a bridge refuses calls without it. */
  token?: string;
}

export class BridgeClient {
  private readonly stub: GeneratedStub;
  private readonly token: string | undefined;
  private closed = false;

  /** address: host:port of a running bridge. */
  constructor(
    readonly address: string,
    options: BridgeClientOptions = {},
  ) {
    const { Bridge } = loadProto().colt.v1;
    // Traces and TVMScript of large workloads outgrow gRPC's 4 MiB default.
    this.stub = new Bridge(address, grpc.credentials.createInsecure(), { ...MESSAGE_LIMITS });
    this.token = options.token;
  }

  health(options?: CallOptions): Promise<HealthResponse__Output> {
    return this.call('Health', {}, options);
  }

  openTask(request: OpenTaskRequest, options?: CallOptions): Promise<OpenTaskResponse__Output> {
    return this.call('OpenTask', request, options);
  }

  sampleInitial(request: SampleInitialRequest, options?: CallOptions): Promise<SampleInitialResponse__Output> {
    return this.call('SampleInitial', request, options);
  }

  apply(request: ApplyRequest, options?: CallOptions): Promise<ApplyResponse__Output> {
    return this.call('Apply', request, options);
  }

  predict(request: PredictRequest, options?: CallOptions): Promise<PredictResponse__Output> {
    return this.call('Predict', request, options);
  }

  describe(request: DescribeRequest, options?: CallOptions): Promise<DescribeResponse__Output> {
    return this.call('Describe', request, options);
  }

  measure(request: MeasureRequest, options?: CallOptions): Promise<MeasureResponse__Output> {
    return this.call('Measure', request, options);
  }

  commit(request: CommitRequest, options?: CallOptions): Promise<CommitResponse__Output> {
    return this.call('Commit', request, options);
  }

  measureUntuned(request: MeasureUntunedRequest, options?: CallOptions): Promise<MeasureResponse__Output> {
    return this.call('MeasureUntuned', request, options);
  }

  listRecords(request: ListRecordsRequest, options?: CallOptions): Promise<ListRecordsResponse__Output> {
    return this.call('ListRecords', request, options);
  }

  closeTask(request: CloseTaskRequest, options?: CallOptions): Promise<CloseTaskResponse__Output> {
    return this.call('CloseTask', request, options);
  }

  /** A task someone else opened in this bridge (colt_tvm hosts them around its TuneContext). */
  getTask(request: GetTaskRequest, options?: CallOptions): Promise<OpenTaskResponse__Output> {
    return this.call('GetTask', request, options);
  }

  /** Closes the channel; calls in flight fail with UNAVAILABLE. */
  close(): void {
    this.closed = true;
    this.stub.close();
  }

  private call<K extends RpcName>(name: K, request: Rpcs[K][0], options: CallOptions = {}): Promise<Rpcs[K][1]> {
    const deadline = Date.now() + (options.deadlineMs ?? DEFAULT_DEADLINES_MS[name]);
    const method = this.stub[name] as unknown as UnaryMethod;
    if (this.closed) {
      // Closed because the bridge stopped (or is being stopped): the same thing to the caller.
      return Promise.reject(new ColtError(Code.Unavailable, `the bridge at ${this.address} is closed`, { details: { rpc: name } }));
    }
    return new Promise((resolve, reject) => {
      try {
        const metadata = new grpc.Metadata();
        if (this.token !== undefined) metadata.set(TOKEN_METADATA_KEY, bearer(this.token));
        method.call(this.stub, request, metadata, { deadline }, (err, response) => {
          if (err) reject(ColtError.from(err, { rpc: name }));
          else resolve(response as Rpcs[K][1]);
        });
      } catch (err) {
        // Thrown synchronously when the request does not serialise, or the channel is closed.
        reject(ColtError.from(err, { rpc: name }));
      }
    });
  }
}
