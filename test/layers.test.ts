// The layers of src/ (.dependency-cruiser.js), checked by dependency-cruiser as a real process:
// the tree as it is has no violation, and each rule refuses the mistake it is there for.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const CONFIG = path.join(ROOT, '.dependency-cruiser.js');
const DEPCRUISE = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
}

/** The violations dependency-cruiser finds in cwd's src/. */
function cruise(cwd: string): Violation[] {
  // Exit status is the number of errors: read the report whatever it is.
  let out: string;
  try {
    out = execFileSync(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'], {
      cwd,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? '';
    if (!out) throw err;
  }
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

describe('the layers of src/', () => {
  it('hold: no import goes up, sideways, in a cycle, or out of the core', () => {
    const violations = cruise(ROOT);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  });

  describe('each rule refuses its mistake', () => {
    let dir: string;
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    };

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-layers-'));
      write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', strict: true } }));
      write('package.json', '{"name":"layers-fixture","private":true}');
      write('src/cli/program.ts', 'export const program = 1;\n');
      write('src/generated/colt/v1/Job.ts', 'export interface Job { id: string }\n');
      // The search core reaching out: to a folder above it, and to node:.
      write('src/search/tree.ts', "import { program } from '../cli/program';\nimport fs from 'node:fs';\nexport const tree = [program, fs];\n");
      // A layer below cli/ importing cli/.
      write('src/jobs/manager.ts', "import { program } from '../cli/program';\nexport const manager = program;\n");
      // Generated stubs outside bridge/ and daemon/, type-only (still counted).
      write('src/llm/pool.ts', "import type { Job } from '../generated/colt/v1/Job';\nexport type Pool = Job;\n");
      // A lower layer reaching up, and a cycle.
      write('src/tuning/session.ts', "import { manager } from '../jobs/manager';\nimport { b } from './b';\nexport const a = [manager, b];\n");
      write('src/tuning/b.ts', "import { a } from './session';\nexport const b = () => a;\n");
      // Allowed: bridge/ uses the stubs, jobs/ uses tuning/.
      write('src/bridge/client.ts', "import type { Job } from '../generated/colt/v1/Job';\nexport type Client = Job;\n");
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('names every violation, and none where bridge/ uses the stubs', () => {
      const found = cruise(dir).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
      expect(found).toEqual(
        expect.arrayContaining([
          'search-is-pure: src/search/tree.ts -> src/cli/program.ts',
          'search-is-pure: src/search/tree.ts -> fs',
          'nothing-below-cli-imports-cli: src/jobs/manager.ts -> src/cli/program.ts',
          'generated-stubs-stay-in-bridge-and-daemon: src/llm/pool.ts -> src/generated/colt/v1/Job.ts',
          'layer-tuning: src/tuning/session.ts -> src/jobs/manager.ts',
          'no-circular: src/tuning/b.ts -> src/tuning/session.ts',
        ]),
      );
      expect(found.filter((f) => f.includes('src/bridge/'))).toEqual([]);
    });
  });
});
