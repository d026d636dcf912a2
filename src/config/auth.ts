// Who may call our services. Every socket (the daemon's, each bridge's) is reachable by every
// local account unless we make it otherwise, so every call carries a token as call metadata
// (`authorization: Bearer <hex>`), and each server compares it in constant time. One mechanism
// for Unix sockets and TCP alike: a socket file's mode is not honoured everywhere.
import crypto from 'node:crypto';

/** The call metadata that carries the caller's token. */
export const TOKEN_METADATA_KEY = 'authorization';
/**
 * StartSearch's metadata for the (bare) token of the bridge the client hosts: the daemon dials
 * that bridge with it. Metadata, not a proto field: tokens stay out of messages that get logged.
 */
export const BRIDGE_TOKEN_METADATA_KEY = 'colt-bridge-token';
/** The environment variable a daemon and its clients may take the token from. */
export const TOKEN_ENV = 'COLT_TOKEN';

/** The largest gRPC message any of our services or clients sends or takes (TVMScript, traces). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** grpc-js channel and server options for that limit. */
export const MESSAGE_LIMITS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
} as const;

/** 32 random bytes, hex. */
export function newToken(): string {
  return crypto.randomBytes(32).toString('hex');
}

/** Printable ASCII without spaces (what metadata carries), long enough not to be guessed. */
const TOKEN_SHAPE = /^[\x21-\x7e]{16,512}$/;

export function isWellFormedToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/** The metadata value for a token. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** The token in a metadata value (`Bearer <token>`), if any. */
export function tokenOf(value: unknown): string | undefined {
  const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  const match = text === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(text);
  return match ? match[1] : undefined;
}

/**
 * Whether `given` is `expected`, in time that does not depend on where they differ (nor on
 * their lengths: both are hashed to the same length first).
 */
export function tokensEqual(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const digest = (s: string): Uint8Array => new Uint8Array(crypto.createHash('sha256').update(s, 'utf8').digest());
  return crypto.timingSafeEqual(digest(expected), digest(given));
}
