// Which machine and software a bench ran on, for bench.json: numbers mean little without it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { lastJsonLine, runChild } from './child';
import { repoTools } from './strategies';

export interface MachineInfo {
  cpuModel: string;
  logicalCores: number;
  totalMemGiB: number;
  platform: string;
  node: string;
  colt: string;
  gitCommit: string | null;
  python?: string;
  tvm?: string;
  numpy?: string;
  blas?: Record<string, string>;
  /** LLVM's name for this CPU (e.g. znver5): what the bench's default target compiles for. */
  llvmHostCpu?: string;
  [key: string]: unknown;
}

function cpuModel(): string {
  const fromNode = os.cpus()[0]?.model?.trim();
  if (fromNode) return fromNode;
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function gitCommit(repoRoot: string): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

function coltVersion(repoRoot: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * Node's view of the machine, plus the Python side's versions (TVM, numpy, its BLAS); and which
 * of `workloads` cannot be loaded (spec -> the bridge's one-line reason): a bench refuses those
 * before its first run.
 */
export async function describeMachine(
  repoRoot: string,
  env: NodeJS.ProcessEnv,
  workloads: readonly string[] = [],
): Promise<{ machine: MachineInfo; workloadErrors: Record<string, string> }> {
  const info: MachineInfo = {
    cpuModel: cpuModel(),
    logicalCores: os.availableParallelism(),
    totalMemGiB: os.totalmem() / 2 ** 30,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    colt: coltVersion(repoRoot),
    gitCommit: gitCommit(repoRoot),
  };
  const { python, scripts } = repoTools(repoRoot);
  const args = [path.join(scripts, 'machine.py'), ...(workloads.length > 0 ? [workloads.join(',')] : [])];
  const result = await runChild(python, args, { cwd: repoRoot, env, captureStdout: true });
  const py = lastJsonLine<Partial<MachineInfo> & { workloadErrors?: Record<string, string> }>(result.stdout);
  if (!py) return { machine: info, workloadErrors: {} };
  const { workloadErrors, ...rest } = py;
  return { machine: { ...info, ...rest }, workloadErrors: workloadErrors ?? {} };
}
