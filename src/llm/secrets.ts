// Keeping API keys out of what we print: text from outside (a server's error, a model's answer)
// is scrubbed of every key before it reaches a message or an event, and URLs shown to the user
// lose their credentials.

const REDACTED = '[redacted]';

/**
 * Replaces every secret in text. Servers echo keys back (OpenAI's 401 quotes part of it), so any
 * text that came from outside passes through here before it reaches a message or an event.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    // A one- or two-character "key" would turn every message into confetti; real keys are long.
    if (secret.length >= 3) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** A URL fit for messages: no user name, password, query or fragment. */
export function displayUrl(url: string | undefined): string {
  if (url === undefined) return "OpenAI's default endpoint";
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}
