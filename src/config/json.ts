// Where a JSON text goes wrong, without its bytes: V8's JSON.parse messages quote the text
// around the fault, and a path a request names may be any file the service can read.

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
