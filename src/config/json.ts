// Files named by users and requests, read with care: never without end, and where their JSON
// goes wrong said without their bytes (V8's JSON.parse messages quote the text around the
// fault, and a path a request names may be any file the service can read).
import fs from 'node:fs';

/** `line 3, column 7` of a JSON.parse failure in text, or '' when V8 did not say where. */
export function jsonErrorPlace(err: unknown, text: string): string {
  const match = /at position (\d+)/.exec(err instanceof Error ? err.message : '');
  if (match) {
    const before = text.slice(0, Number(match[1]));
    const line = before.split('\n').length;
    return `line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
  }
  // "Unexpected token 'r', "root:x:0:0"... is not valid JSON" names no position: the first
  // line is the best we can say without quoting it; "Unexpected end" is at the end.
  return /end of JSON input/.test(err instanceof Error ? err.message : '') ? `line ${text.split('\n').length}, at its end` : '';
}

/** ` (line 3, column 7)`, or nothing: what follows "X is not valid JSON" in a message. */
export function jsonErrorWhere(err: unknown, text: string): string {
  const place = jsonErrorPlace(err, text);
  return place ? ` (${place})` : '';
}

/**
 * A text file named by a user or a request, read whole only when it is small: /dev/zero, a
 * FIFO or a file of gigabytes is refused (`tooLarge`) after at most `maxBytes` + 1 bytes, never
 * read without end. Read errors are thrown as they come (their `code` says why).
 */
export function readSmallTextFile(file: string, maxBytes: number): { text: string } | { tooLarge: true } {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const buf = new Uint8Array(maxBytes + 1);
    let used = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, used, buf.length - used, null);
      if (n === 0) break;
      used += n;
      if (used > maxBytes) return { tooLarge: true };
    }
    return { text: Buffer.from(buf.buffer, 0, used).toString('utf8') };
  } finally {
    fs.closeSync(fd);
  }
}
