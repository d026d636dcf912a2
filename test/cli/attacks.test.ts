// Untrusted input tried for real through the compiled CLI, as another local user would hand it
// to someone's `colt`: a TVMScript workload that writes a file while TVM parses it, a models file
// that is not one, and a key headed for a plain-http host. Each is refused in one line, exit 2,
// before anything runs; the sentinel file never appears.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ensureBuilt, expectOneErrorLine, runColt, userEnv } from './colt-process';

// TVM's parser evaluated this while it parsed the file, writing the sentinel.
const payload = (sentinel: string): string => `from tvm.script import tirx as T

@T.prim_func
def main(A: T.Buffer((4,), "float32")):
    T.evaluate(T.evaluate.__globals__["__builtins__"]["__import__"]("pathlib").Path(${JSON.stringify(sentinel)}).write_text("x"))
`;

let tmp: string;

beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-attacks-'));
}, 180_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a TVMScript workload that is not only TVMScript', () => {
  it('is refused by colt tune in one line, and the payload never runs', async () => {
    const sentinel = path.join(tmp, 'tune-sentinel');
    const file = path.join(tmp, 'evil.py');
    fs.writeFileSync(file, payload(sentinel));
    const workDir = path.join(tmp, 'tune-run');
    const run = await runColt(['tune', '--workload', file, '--trials', '4', '--no-llm', '--work-dir', workDir]);
    expectOneErrorLine(run, /line 5: .*not allowed in TVMScript/);
    expect(fs.existsSync(sentinel)).toBe(false);
    expect(fs.existsSync(path.join(workDir, 'database_tuning_record.json'))).toBe(false);
  });

  it('is refused by colt bench as one of its workloads, and the payload never runs', async () => {
    const sentinel = path.join(tmp, 'bench-sentinel');
    const file = path.join(tmp, 'evil_layer.py');
    fs.writeFileSync(file, payload(sentinel));
    const out = path.join(tmp, 'bench-out');
    // Beside a workload that loads: the bench refuses before its first run, not run by run.
    const run = await runColt(['bench', '--workloads', `GMM:0,${file}`, '--strategies', 'colt-no-llm,evolutionary', '--budgets', '4', '--seeds', '1', '--out', out]);
    expectOneErrorLine(run, /--workloads: .*evil_layer\.py: line 5: .*not allowed in TVMScript/);
    expect(fs.existsSync(sentinel)).toBe(false);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('named relative to the directory colt bench runs in, is found there and refused the same way', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'cwd-'));
    const sentinel = path.join(dir, 'sentinel');
    fs.writeFileSync(path.join(dir, 'my_layer.py'), payload(sentinel));
    // The runs themselves start in the repository, where no my_layer.py is.
    const run = await runColt(['bench', '--workloads', 'GMM:0,my_layer.py', '--strategies', 'colt-no-llm', '--budgets', '4', '--seeds', '1', '--out', 'out'], { cwd: dir });
    expectOneErrorLine(run, new RegExp(`--workloads: ${dir}/my_layer\\.py: line 5: .*not allowed in TVMScript`));
    expect(fs.existsSync(sentinel)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);

    const missing = await runColt(['bench', '--workloads', 'GMM:0,nowhere.py', '--strategies', 'colt-no-llm', '--budgets', '4', '--seeds', '1', '--out', 'out'], { cwd: dir });
    expectOneErrorLine(missing, /--workloads: workload nowhere\.py: no such file/);
  });
});

describe('a models file', () => {
  it('that is /etc/passwd gives one line quoting none of its bytes', async () => {
    const run = await runColt(['tune', '--workload', 'GMM:0', '--trials', '4', '--models', '/etc/passwd', '--work-dir', path.join(tmp, 'passwd')]);
    const line = expectOneErrorLine(run, /\/etc\/passwd/);
    const passwd = fs.readFileSync('/etc/passwd', 'utf8');
    // Not one of its fields: user names, shells, home directories.
    for (const field of new Set(passwd.split(/[:\n]/).filter((f) => f.length >= 4))) {
      expect(line.replace('/etc/passwd', '')).not.toContain(field);
    }
  });

  it('that would send a key over plain http to another host is refused before any request leaves', async () => {
    const models = path.join(tmp, 'models-http.json');
    fs.writeFileSync(
      models,
      JSON.stringify({
        // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing may be sent there.
        models: [{ name: 'remote', model: 'gpt-4o-mini', baseURL: 'http://192.0.2.1:8080/v1', apiKeyEnv: 'COLT_ATTACK_KEY', params: 1e9 }],
      }),
    );
    const run = await runColt(['tune', '--workload', 'GMM:0', '--trials', '4', '--models', models, '--work-dir', path.join(tmp, 'http')], {
      env: userEnv({ COLT_ATTACK_KEY: 'sk-attack-secret' }),
    });
    const line = expectOneErrorLine(run, /http/);
    expect(line).toMatch(/insecureHttp/);
    expect(line).not.toContain('sk-attack-secret');
    // Refused while the models file is read: no bridge was started, no work dir made.
    expect(fs.existsSync(path.join(tmp, 'http', 'database_tuning_record.json'))).toBe(false);
  });
});
