import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The sealing of stored idempotent responses (issue 16, finding 6): a response replayed to a retried POST may
 * carry a secret (a new API key, a workspace's first key, an operator key, a billing session URL), so no body is
 * stored in plaintext. Each is sealed with AES-256-GCM under a key derived (HKDF-SHA256) from a server secret
 * that never reaches the database and from the row's own key (principal, route and the client's Idempotency-Key),
 * which is also the authenticated data: a database copy alone opens nothing, and a body cannot be moved to
 * another row. Format: `enc:v1:` + base64url(iv ‖ tag ‖ ciphertext).
 */
const PREFIX = 'enc:v1:';

function keyOf(serverSecret: string, rowKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), `idempotent-response:v1:${rowKey}`, 32));
}

/** The stored form of `body` for the idempotency row `rowKey`. */
export function sealResponse(serverSecret: string, rowKey: string, body: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(serverSecret, rowKey), iv);
  cipher.setAAD(Buffer.from(rowKey));
  const sealed = Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/** Whether a stored body was sealed (bodies stored before sealing existed are plaintext without secrets: migration 0023). */
export const isSealed = (stored: string): boolean => stored.startsWith(PREFIX);

/** The body sealed for `rowKey`, or undefined when it cannot be opened (another server secret, another row, altered, not sealed). */
export function openResponse(serverSecret: string, rowKey: string, stored: string): string | undefined {
  if (!stored.startsWith(PREFIX)) return undefined;
  const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url');
  if (raw.length < 28) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(serverSecret, rowKey), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(rowKey));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
