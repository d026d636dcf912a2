// `colt tune --rpc-tracker`: a real TVM RPC tracker and real RPC servers on 127.0.0.1, started
// here with scripts/rpc-local; the compiled CLI tunes through them, and plain Python with the
// stock TVM wheel reads the database it leaves.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { ensureBuilt, REPO, runColt, runPython, startColt, type Finished } from './colt-process';

const RPC_LOCAL = path.join(REPO, 'scripts', 'rpc-local');
const TARGET = '{"kind":"llvm","num-cores":1}';
/** TARGET is given in full without mcpu: one warning line says what that costs. */
const GENERIC_CPU_WARNING = expect.stringMatching(/^warn: --target has no "mcpu": TVM compiles for a generic CPU/);

/** A port nothing listens on now (the tracker's; its servers take free ones above it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

class Devices {
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(dir: string, servers: number): Promise<Devices> {
    const port = await freePort();
    execFileSync(RPC_LOCAL, ['start', '--servers', String(servers), '--port', String(port), '--dir', dir], { stdio: 'pipe', timeout: 120_000 });
    return new Devices(dir, port);
  }

  stop(): void {
    execFileSync(RPC_LOCAL, ['stop', '--dir', this.dir], { stdio: 'pipe', timeout: 60_000 });
  }

  get tracker(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The trials a server ran: it logs one load_module line per module it was sent. */
  trialsOn(i: number): number {
    return (fs.readFileSync(path.join(this.dir, `server-${i}.log`), 'utf8').match(/load_module/g) ?? []).length;
  }

  /** Plays a device reboot: the server and every process it started, at once. */
  kill(i: number): void {
    const pgid = Number(fs.readFileSync(path.join(this.dir, `server-${i}.pid`), 'utf8'));
    process.kill(-pgid, 'SIGKILL');
  }
}

/** Counts the records, checks none carries a failure time, and applies the best with stock TVM. */
const CHECK_DATABASE = `
import json, sys
import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.testing import te_workload

work_dir = sys.argv[1]
db = ms.database.JSONDatabase(work_dir=work_dir)
records = db.get_all_tuning_records()
failed = sum(1 for r in records if min(float(s) for s in r.run_secs) >= 1e9)
f = te_workload.create_te_workload("GMM", 0)
mod = tvm.IRModule({"main": f})
target = tvm.target.Target(json.loads(sys.argv[2]))
sch = ms.tir_integration.compile_tir(db, mod, target)
lib = tvm.compile(sch.mod, target=target).mod
dev = tvm.cpu(0)
rng = np.random.default_rng(0)
arrays = [rng.uniform(-1, 1, [int(d) for d in a.shape]).astype(str(a.dtype)) for a in ms.arg_info.ArgInfo.from_prim_func(f)]
nd = [tvm.runtime.tensor(a, dev) for a in arrays]
lib(*nd)
ok = bool(np.allclose(nd[-1].numpy(), np.matmul(arrays[0], arrays[1]), rtol=1e-4, atol=1e-4))
print(json.dumps({"records": len(records), "failed": failed, "matches_numpy": ok}))
`;

interface Line {
  type: string;
  batch?: Array<{ device?: string }>;
  [key: string]: unknown;
}

function jsonLines(run: Finished): Line[] {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

function stderrLines(run: Finished): string[] {
  return run.stderr.split('\n').filter((l) => l.trim() !== '');
}

let tmp: string;
let devices: Devices;

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-rpc-'));
  devices = await Devices.start(path.join(tmp, 'rpc'), 2);
}, 300_000);

afterAll(() => {
  devices?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('colt tune through an RPC tracker', () => {
  it('runs trials on both devices, and the database it writes applies', async () => {
    const workDir = path.join(tmp, 'two');
    const before = [devices.trialsOn(1), devices.trialsOn(2)];
    const run = await runColt([
      'tune', '--workload', 'GMM:0', '--target', TARGET, '--trials', '16', '--per-iter', '8', '--no-llm', '--json',
      '--rpc-tracker', devices.tracker, '--rpc-key', 'cpu', '--work-dir', workDir,
    ]);
    expect(stderrLines(run)).toEqual([GENERIC_CPU_WARNING]);
    expect(run.code).toBe(0);

    // Both servers say they ran trials, and the search says which ran each.
    expect(devices.trialsOn(1)).toBeGreaterThan(before[0]);
    expect(devices.trialsOn(2)).toBeGreaterThan(before[1]);
    const lines = jsonLines(run);
    const named = new Set(lines.filter((l) => l.type === 'measure').flatMap((l) => (l.batch ?? []).map((t) => t.device)));
    expect(named.size).toBe(2);
    const summary = lines.at(-1) as unknown as { trials: number; devices: Record<string, number> };
    expect(summary).toMatchObject({ type: 'summary', trials: 16 });
    expect(Object.keys(summary.devices).sort()).toEqual([...named].sort());
    expect(Object.values(summary.devices).reduce((a, b) => a + b, 0)).toBe(16);

    const db = runPython<{ records: number; failed: number; matches_numpy: boolean }>(CHECK_DATABASE, [workDir, TARGET]);
    expect(db).toEqual({ records: 16, failed: 0, matches_numpy: true });
  }, 600_000);

  it.each([
    ['a tracker that does not answer', async () => ['--rpc-tracker', `127.0.0.1:${await freePort()}`, '--rpc-key', 'cpu'], /cannot reach the RPC tracker at 127\.0\.0\.1:\d+/],
    ['a key no server has', async () => ['--rpc-tracker', devices.tracker, '--rpc-key', 'gpu'], /has no server with key 'gpu' \(it has cpu\)/],
  ])('refuses %s: one line, exit 2, before any tuning', async (_name, flags, problem) => {
    const workDir = path.join(tmp, `bad-${Math.random().toString(36).slice(2)}`);
    const run = await runColt(['tune', '--workload', 'GMM:0', '--trials', '4', '--no-llm', ...(await flags()), '--work-dir', workDir]);
    expect(run.code).toBe(2);
    const lines = stderrLines(run);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^colt: error: /);
    expect(lines[0]).toMatch(problem);
    expect(run.stdout).toBe('');
    expect(fs.existsSync(path.join(workDir, 'database_tuning_record.json'))).toBe(false);
  }, 300_000);
});

describe('colt tune when an RPC device dies mid-run', () => {
  it('reaches its trial budget on the devices left, storing no failure for the lost trials', async () => {
    const own = await Devices.start(path.join(tmp, 'rpc-kill'), 2);
    try {
      const workDir = path.join(tmp, 'killed-device');
      // Trials of 2 x 100 ms or more: the kill lands while some are out on the device.
      const colt = startColt([
        'tune', '--workload', 'GMM:0', '--target', TARGET, '--trials', '24', '--per-iter', '8', '--no-llm', '--json',
        '--min-repeat-ms', '100', '--number', '2', '--rpc-tracker', own.tracker, '--rpc-key', 'cpu', '--work-dir', workDir,
      ]);
      let killed = false;
      colt.onLine((line) => {
        if (killed || !line.startsWith('{') || (JSON.parse(line) as Line).type !== 'measure') return;
        killed = true;
        own.kill(1);
      });
      const run = await colt.done;
      expect(killed).toBe(true);
      expect(stderrLines(run)).toEqual([GENERIC_CPU_WARNING]);
      expect(run.code).toBe(0);
      const summary = jsonLines(run).at(-1) as unknown as { trials: number; stopReason: string };
      expect(summary).toMatchObject({ type: 'summary', trials: 24, stopReason: 'trials' });
      const db = runPython<{ records: number; failed: number }>(CHECK_DATABASE, [workDir, TARGET]);
      expect(db.records).toBe(24);
      expect(db.failed).toBe(0);
    } finally {
      own.stop();
    }
  }, 600_000);
});
