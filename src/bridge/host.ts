// What one tuning run asks of TVM, in the search core's terms: open a task, measure its untuned
// build, read a database's records, and a ScheduleSpace over the task. A bridge process serves
// it (BridgeTaskHost, below); the tuning layer's tests serve it in memory. The proto messages
// stay in here.
import type { OpenTaskRequest } from '../generated/colt/v1/OpenTaskRequest';
import { Code, ColtError } from '../errors';
import type { CommittedTrial, MeasureOutcome, MutatorInfo, ScheduleSpace } from '../search';
import { BridgeScheduleSpace, committedTrialsFromProto, measureDeadlineMs, measureOutcomesFromProto } from './space';
import { describeExit, startBridge, type BridgeExit, type BridgeProcess, type StartBridgeOptions } from './supervisor';

/** Runs on the devices of a TVM RPC tracker. */
export interface RpcSettings {
  trackerHost: string;
  trackerPort: number;
  key: string;
  priority: number;
  /** Seconds a device allows one trial, from its start there. */
  sessionTimeoutSec: number;
}

export interface TaskRequest {
  /** A suite name (`GMM:1`), a bench layer's name, or a TVMScript file's absolute path. */
  workload: string;
  /** The target as TVM's JSON dict. */
  target: { kind: string } & Record<string, unknown>;
  /** The target stands for this machine: an llvm one without mcpu gets this CPU's. */
  hostCpu: boolean;
  /** Where the JSON database lives. */
  workDir: string;
  seed: number;
  costModel: string;
  /** A cost model trained beforehand (an absolute path), scoring beside costModel; '': the bridge's default (the bundled one on an x86-64 CPU); 'none': none. */
  costModelFile: string;
  measure: {
    number: number;
    repeat: number;
    minRepeatMs: number;
    timeoutSec: number;
    checkResults: boolean;
    /** Unset: trials run on this machine. */
    rpc?: RpcSettings;
  };
}

export interface HostedTask {
  taskId: string;
  taskName: string;
  flop: number;
  /** The target as TVM normalised it (JSON). */
  targetJson: string;
  /** TVM's structural hash of the workload: what the database files it under. */
  workloadKey: string;
  designSpaces: number;
  mutators: MutatorInfo[];
  /** Devices the tracker offered when the task opened (0 on this machine). */
  devices: number;
  /** LLVM's name for the bridge host's CPU (e.g. "znver4"); '' when the bridge cannot tell. */
  hostCpu: string;
  /** What the user should hear about, one line each (a torn database line set aside...). */
  warnings: string[];
  /** The cost model file scoring beside the task's own (the bundled one by default); null: none. */
  costModelFile: string | null;
  space: ScheduleSpace;
}

export interface TaskHost {
  openTask(request: TaskRequest): Promise<HostedTask>;
  /** The untuned build's outcome; deadlineMs bounds building and running it. */
  measureUntuned(taskId: string, deadlineMs: number): Promise<MeasureOutcome | undefined>;
  /**
   * A database's records of the task's workload (the task's own work dir unless `workDir`),
   * the best first when `limit` is set; `trainCostModel` teaches them to the task's cost model.
   */
  listRecords(request: { taskId: string; workDir?: string; limit?: number; trainCostModel: boolean }): Promise<{
    total: number;
    trials: CommittedTrial[];
  }>;
  closeTask(taskId: string): Promise<void>;
  /** Awaits work, or fails with BRIDGE_STOPPED (details.exit) as soon as the host is gone. */
  guard<T>(work: Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

/** Starts a fresh host; called again when the last one died. */
export type StartTaskHost = () => Promise<TaskHost>;

/**
 * How long a dropped connection may precede the exit it announces. A SIGKILLed bridge with many
 * threads can take seconds to be reaped on a loaded machine; waiting only delays the message.
 */
const EXIT_AFTER_DROP_MS = 10_000;

/** The bridge died: how, in the error's message and details. */
export function bridgeStopped(exit: Pick<BridgeExit, 'code' | 'signal'> | undefined): ColtError {
  const how = exit ? describeExit(exit) : 'connection lost';
  return new ColtError(Code.BridgeStopped, `the TVM bridge stopped during tuning (${how})`, {
    details: exit ? { exit: { code: exit.code, signal: exit.signal } } : {},
  });
}

function rpcRequest(rpc: RpcSettings | undefined): Pick<NonNullable<OpenTaskRequest['measure']>, 'rpc'> {
  if (!rpc) return {};
  return {
    rpc: {
      tracker_host: rpc.trackerHost,
      tracker_port: rpc.trackerPort,
      key: rpc.key,
      priority: rpc.priority,
      session_timeout_sec: rpc.sessionTimeoutSec,
    },
  };
}

/** A TaskHost served by a bridge process of our own. */
export class BridgeTaskHost implements TaskHost {
  private readonly death: Promise<never>;

  constructor(private readonly bridge: BridgeProcess) {
    this.death = bridge.exited.then((exit) => {
      if (exit.expected) return new Promise<never>(() => undefined);
      throw bridgeStopped(exit);
    });
    this.death.catch(() => undefined);
  }

  static async start(options: StartBridgeOptions = {}): Promise<BridgeTaskHost> {
    return new BridgeTaskHost(await startBridge(options));
  }

  async openTask(request: TaskRequest): Promise<HostedTask> {
    const { measure } = request;
    const task = await this.guard(
      this.bridge.client.openTask({
        workload: request.workload,
        target_json: JSON.stringify(request.target),
        host_cpu: request.hostCpu,
        work_dir: request.workDir,
        seed: request.seed,
        cost_model: request.costModel,
        cost_model_file: request.costModelFile,
        measure: {
          number: measure.number,
          repeat: measure.repeat,
          min_repeat_ms: measure.minRepeatMs,
          timeout_sec: measure.timeoutSec,
          check_correctness: measure.checkResults,
          ...rpcRequest(measure.rpc),
        },
      }),
    );
    const mutators = task.mutators.map((m) => ({ name: m.name, probability: m.probability }));
    // A trial may wait for a build and then a device session, each with its own timeout.
    const perTrialSec = measure.timeoutSec + (measure.rpc ? measure.rpc.sessionTimeoutSec : 0);
    return {
      taskId: task.task_id,
      taskName: task.task_name,
      flop: task.flop,
      targetJson: task.target_json,
      workloadKey: task.workload_key,
      designSpaces: task.design_spaces.length,
      mutators,
      devices: task.devices,
      hostCpu: task.host_cpu,
      warnings: task.warnings,
      costModelFile: task.cost_model_file || null,
      space: new BridgeScheduleSpace(this.bridge.client, task.task_id, mutators, {
        measureDeadlineMs: (n) => measureDeadlineMs(n, perTrialSec),
      }),
    };
  }

  async measureUntuned(taskId: string, deadlineMs: number): Promise<MeasureOutcome | undefined> {
    const response = await this.guard(this.bridge.client.measureUntuned({ task_id: taskId }, { deadlineMs }));
    return measureOutcomesFromProto(response)[0];
  }

  async listRecords(request: { taskId: string; workDir?: string; limit?: number; trainCostModel: boolean }) {
    const response = await this.guard(
      this.bridge.client.listRecords({
        task_id: request.taskId,
        train_cost_model: request.trainCostModel,
        ...(request.workDir !== undefined ? { work_dir: request.workDir } : {}),
        ...(request.limit !== undefined ? { limit: request.limit } : {}),
      }),
    );
    return { total: response.total, trials: committedTrialsFromProto(response) };
  }

  async closeTask(taskId: string): Promise<void> {
    await this.guard(this.bridge.client.closeTask({ task_id: taskId }));
  }

  async guard<T>(work: Promise<T>): Promise<T> {
    // If the bridge dies first, `work` fails later with nobody listening: that is expected.
    work.catch(() => undefined);
    try {
      return await Promise.race([work, this.death]);
    } catch (err) {
      throw await this.translate(err);
    }
  }

  async stop(): Promise<void> {
    await this.bridge.stop();
  }

  /** A call that failed because the bridge went away is the bridge's death, told once. */
  private async translate(err: unknown): Promise<unknown> {
    if (!(err instanceof ColtError) || err.code !== Code.Unavailable || err.details.rpc === undefined) return err;
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      this.bridge.exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), EXIT_AFTER_DROP_MS))),
    ]);
    clearTimeout(timer);
    return bridgeStopped(exit);
  }
}
