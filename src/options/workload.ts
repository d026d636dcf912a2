// Workload specs: `NAME:IDX` from MetaSchedule's te_workload suite, a bench layer by name
// (`llama3-attn`: bench/workloads/llama3_attn.py), or a TVMScript file.
import fs from 'node:fs';
import path from 'node:path';

import { findRepoRoot } from '../config/paths';
import { Code, ColtError } from '../errors';

const TE_SPEC = /^([A-Za-z0-9_]+):(\d+)$/;
const BENCH_NAME = /^[A-Za-z0-9_-]+$/;

/** The TVMScript file of a bench layer (`llama3-attn`), if the spec names one. */
export function benchWorkloadFile(spec: string): string | undefined {
  const name = spec.trim().toLowerCase().replace(/-/g, '_');
  if (!BENCH_NAME.test(name)) return undefined;
  const file = path.join(findRepoRoot(__dirname), 'bench', 'workloads', `${name}.py`);
  return fs.existsSync(file) ? file : undefined;
}

/** A short name for the workload, as the bridge names its task: `GMM:1` → `gmm_1`. */
export function workloadName(spec: string): string {
  const match = TE_SPEC.exec(spec.trim());
  if (match) return `${match[1].toLowerCase()}_${match[2]}`;
  const base = path.basename(spec.trim()).replace(/\.[^.]*$/, '');
  return base.replace(/[^A-Za-z0-9_]/g, '_') || 'main';
}

/**
 * What to send the bridge, which runs in another directory: a suite name as is, a file as an
 * absolute path. A file that is not there and no suite name either is the user's mistake.
 */
export function resolveWorkload(spec: string, cwd: string = process.cwd()): string {
  const trimmed = spec.trim();
  const file = path.resolve(cwd, trimmed);
  if (TE_SPEC.test(trimmed) && !fs.existsSync(file)) return trimmed;
  if (benchWorkloadFile(trimmed) && !fs.existsSync(file)) return trimmed;
  if (!fs.existsSync(file)) {
    throw new ColtError(Code.InvalidArgument, 
      `workload ${trimmed}: no such file; give NAME:IDX (e.g. GMM:1), a bench layer (e.g. llama3-attn) or the path of a TVMScript file`,
    );
  }
  if (!fs.statSync(file).isFile()) throw new ColtError(Code.InvalidArgument, `workload ${trimmed}: not a file`);
  return file;
}
