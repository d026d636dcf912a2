// Shared by the local-model tests: the bundled model's path, node-llama-cpp as the test
// environment lends it, and a node shaped like a real GMM:0 schedule.
import fs from 'node:fs';
import path from 'node:path';

import { BUNDLED_MODEL } from '../../src/llm/default-bucket';
import type { NodeLlamaCpp } from '../../src/llm/local/runtime';
import type { NodeView, ProposalContext } from '../../src/search/types';

export const REPO = path.resolve(__dirname, '..', '..');
export const GGUF = path.join(REPO, BUNDLED_MODEL.file);

/** node-llama-cpp, through the real import() of test/llm/local-environment.js. */
export function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  const lend = (globalThis as { importNodeLlamaCpp?: () => Promise<NodeLlamaCpp> }).importNodeLlamaCpp;
  if (!lend) throw new Error('run this test file under @jest-environment ./test/llm/local-environment.js');
  return lend();
}

/** Fails with what to do when set-up has not fetched the model. */
export function requireBundledModel(): void {
  if (!fs.existsSync(GGUF)) throw new Error(`${BUNDLED_MODEL.file} is missing: run \`bash scripts/setup\``);
}

/** GMM:0's decisions as the bridge reports them: three tilings, a trivial one, and the unroll choice. */
export const GMM_DECISIONS: NodeView['decisions'] = [
  { instIndex: 4, kind: 'SamplePerfectTile', value: [1, 1, 1, 1], detail: { extent: 1, n: 4, max_innermost_factor: 64 } },
  { instIndex: 6, kind: 'SamplePerfectTile', value: [1, 8, 1, 16], detail: { extent: 128, n: 4, max_innermost_factor: 64 } },
  { instIndex: 8, kind: 'SamplePerfectTile', value: [2, 8, 4, 2], detail: { extent: 128, n: 4, max_innermost_factor: 64 } },
  { instIndex: 10, kind: 'SamplePerfectTile', value: [16, 8], detail: { extent: 128, n: 2, max_innermost_factor: 64 } },
  { instIndex: 17, kind: 'SampleCategorical', value: 3, detail: { candidates: [0, 16, 64, 512], probs: [0.25, 0.25, 0.25, 0.25] } },
];

export function gmmContext(models: string[]): ProposalContext {
  const node: NodeView = { id: 7, depth: 2, traceJson: '[]', decisions: GMM_DECISIONS, predictedScore: 0.61, model: models[models.length - 1] };
  let x = 0;
  return {
    node,
    mutators: [
      { name: 'MutateTileSize', probability: 0.9 },
      { name: 'MutateComputeLocation', probability: 0.05 },
      { name: 'MutateUnroll', probability: 0.03 },
      { name: 'MutateParallel', probability: 0.02 },
    ],
    trialsUsed: 8,
    maxTrials: 32,
    models,
    random: () => (x = (x * 9301 + 49297) % 233280) / 233280,
    recentExpanders: ['builtin'],
  };
}
