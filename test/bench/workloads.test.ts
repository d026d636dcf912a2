// The bench layers by name on the TypeScript side: `colt tune --workload llama3-attn` passes the
// name to the bridge, which loads bench/workloads/llama3_attn.py.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { benchWorkloadFile, resolveWorkload, workloadName } from '../../src/options/workload';

describe('bench layers as workloads', () => {
  it('resolves a layer name to itself, named as the bridge names its task', () => {
    expect(resolveWorkload('llama3-attn', os.tmpdir())).toBe('llama3-attn');
    expect(workloadName('llama3-attn')).toBe('llama3_attn');
    expect(benchWorkloadFile('deepseek-moe')).toMatch(/bench\/workloads\/deepseek_moe\.py$/);
  });

  it('keeps a file of the same name in the working directory first', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-wl-'));
    fs.writeFileSync(path.join(dir, 'flux-conv'), '# a TVMScript file\n');
    expect(resolveWorkload('flux-conv', dir)).toBe(path.join(dir, 'flux-conv'));
    fs.rmSync(dir, { recursive: true });
  });

  it('names the choices for a name that is none of them', () => {
    expect(() => resolveWorkload('llama9-attn', os.tmpdir())).toThrow(/a bench layer \(e\.g\. llama3-attn\)/);
  });
});
