// The search core's public API. Adapters (bridge client, LLM proposers, CLI, reporters) import
// from here, not from the individual files.
export * from './types';
export { Search, type SearchDeps } from './search';
export { MAX_STALLED_BATCHES } from './batches';
export { SearchError, type SearchErrorCode } from './errors';
export type { MeasurementRecord, ModelStats, SearchEvent, SearchResult } from './events';
export type { SearchSnapshot } from './snapshot';
export {
  resolveSearchOptions,
  SEARCH_DEFAULTS,
  type CourseAlterationOptions,
  type ResolvedSearchOptions,
  type SearchOptions,
} from './options';
export { Budget, type StopReason } from './budget';
export { BuiltinProposer, BUILTIN_PROPOSER_DEFAULTS, type BuiltinProposerOptions } from './builtin-proposer';
export {
  editsFor,
  isValidTile,
  neighbourTilings,
  parseTileDetail,
  randomDirectedEdit,
  type TileDetail,
} from './directed-edit';
export {
  effectiveLambda,
  modelBiasFromSizes,
  phi,
  selectChild,
  selectLeaf,
  uctScore,
  type ModelBias,
  type Selection,
  type TreePolicy,
} from './policy';
export { Rng, weightedIndex } from './rng';
export { meanValue, Tree, type MeasuredState, type NodeSnapshot, type TreeNode, type TreeSnapshot } from './tree';
