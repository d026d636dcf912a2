// The search core's public API. Adapters (bridge client, LLM proposers, CLI, reporters) import
// from here, not from the individual files.
export * from './types';
export {
  MAX_STALLED_BATCHES,
  MeasurementStalledError,
  Search,
  type MeasurementRecord,
  type ModelStats,
  type SearchDeps,
  type SearchEvent,
  type SearchResult,
  type SearchSnapshot,
} from './search';
export {
  resolveSearchOptions,
  SEARCH_DEFAULTS,
  SearchOptionsError,
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
