import { createHmac, timingSafeEqual } from 'node:crypto';

/** `sha256=` followed by exactly 64 hex digits (either case). */
const SIGNATURE_HEADER = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Checks Meta's `X-Hub-Signature-256` header against the HMAC-SHA256 of the raw request bytes.
 *
 * Hash the bytes exactly as received: Meta signs its own serialisation (non-ASCII as `\u00e4`,
 * `/` as `\/`, `@` as `\u0040`), so a body that was parsed and re-serialised will not verify.
 * Any malformed or missing header, an empty secret or a non-buffer body gives `false`; this
 * function never throws.
 */
export function verifySignature(
  rawBody: Buffer | Uint8Array,
  header: string | readonly string[] | undefined,
  appSecret: string,
): boolean {
  try {
    if (typeof header !== 'string' || typeof appSecret !== 'string' || appSecret.length === 0) {
      return false;
    }
    if (!(rawBody instanceof Uint8Array)) return false;
    const match = SIGNATURE_HEADER.exec(header);
    const hex = match?.[1];
    if (hex === undefined) return false;
    const given = Buffer.from(hex, 'hex');
    const expected = createHmac('sha256', appSecret).update(rawBody).digest();
    // Both are 32 bytes here; the length check keeps timingSafeEqual from throwing regardless.
    return given.length === expected.length && timingSafeEqual(given, expected);
  } catch {
    return false;
  }
}

/** The `X-Hub-Signature-256` value Meta would send for this body (tests, simulator, benchmarks). */
export function signBody(rawBody: Buffer | Uint8Array | string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}
