// Fair BLAS: the re-measurement child runs OpenBLAS without OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE (which hold it to older kernels), and bench.json records which kernel ran.
// Real processes: the venv's Python, numpy's OpenBLAS, threadpoolctl.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { benchEnv, remeasureEnv } from '../../src/bench';
import { lastJsonLine, runChild } from '../../src/bench/child';
import { remeasure } from '../../src/bench/remeasure';
import { REPO, PYTHON } from '../cli/colt-process';
import { benchOf } from './fixtures';

// A kernel no CPU of today picks for itself: if it shows up, the variable got through.
const HELD = { OPENBLAS_CORETYPE: 'Nehalem', OPENBLAS_L2_SIZE: '262144' };

const KERNEL = 'import json, numpy, threadpoolctl; print(json.dumps([i.get("architecture") for i in threadpoolctl.threadpool_info()]))';

describe('remeasureEnv', () => {
  it('unsets both OpenBLAS kernel variables together, and nothing else', () => {
    const env = remeasureEnv({ ...HELD, OPENBLAS_NUM_THREADS: '2', PATH: '/bin' });
    expect(env).toEqual({ OPENBLAS_NUM_THREADS: '2', PATH: '/bin' });
  });
});

describe('the re-measurement child', () => {
  let tmp: string;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-remeasure-'));
  });

  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('is held to the old kernel when the variables reach it (the control)', async () => {
    const result = await runChild(PYTHON, ['-c', KERNEL], { cwd: REPO, env: { ...process.env, ...HELD }, captureStdout: true });
    expect(lastJsonLine<string[]>(result.stdout)).toEqual(['Nehalem']);
  }, 60_000);

  it('runs OpenBLAS on its own choice of kernel and records it, with the environment it ran in', async () => {
    const bench = benchOf([], [16], ['colt', 'evolutionary'], []);
    const env = { ...benchEnv(process.env, 2), ...HELD };
    await remeasure(bench, { rounds: 1, repeat: 1, minRepeatMs: 1 }, { repoRoot: REPO, outDir: tmp, env });
    expect(bench.settings.remeasureEnv).toMatchObject({ OPENBLAS_CORETYPE: null, OPENBLAS_L2_SIZE: null, OPENBLAS_NUM_THREADS: '2' });
    const blas = bench.settings.blasRuntime ?? [];
    expect(blas).toEqual([expect.objectContaining({ user_api: 'blas', internal_api: 'openblas', num_threads: 2, architecture: expect.any(String) })]);
    expect(blas[0].architecture).not.toBe('Nehalem');
  }, 120_000);
});
