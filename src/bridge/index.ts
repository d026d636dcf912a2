// The adapter between the search core and the Python TVM bridge.
export { BridgeClient, DEFAULT_DEADLINES_MS, PROTO_LOADER_OPTIONS, type CallOptions } from './client';
export { BridgeError, BridgeErrorCode } from './errors';
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
export {
  BridgeProcess,
  BridgeStartError,
  describeExit,
  startBridge,
  STOP_GRACE_MS,
  type BridgeExit,
  type StartBridgeOptions,
} from './supervisor';
