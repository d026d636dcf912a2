// The adapter between the search core and the Python TVM bridge: the only code, with daemon/'s
// own service, that touches the generated stubs.
export { BridgeClient, DEFAULT_DEADLINES_MS, PROTO_LOADER_OPTIONS, type BridgeClientOptions, type CallOptions } from './client';
export {
  bridgeStopped,
  BridgeTaskHost,
  type HostedTask,
  type RpcSettings,
  type StartTaskHost,
  type TaskHost,
  type TaskRequest,
} from './host';
export {
  BridgeScheduleSpace,
  candidateFromProto,
  candidateToProto,
  committedTrialsFromProto,
  measureDeadlineMs,
  measureOutcomesFromProto,
  transformationFromProto,
  transformationToProto,
  type BridgeScheduleSpaceOptions,
} from './space';
export { BridgeProcess, describeExit, startBridge, STOP_GRACE_MS, type BridgeExit, type StartBridgeOptions } from './supervisor';
