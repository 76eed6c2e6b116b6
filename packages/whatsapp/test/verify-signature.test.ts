import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacSha256, signBody, verifySignature } from '../src/index.ts';
import { fixtureBuffer, fixtures } from './fixtures/index.ts';

const SECRET = 'f3c1e0a9b8d74c2e9a1b0c3d4e5f6a7b';

/** Independent reference: Meta's documented algorithm, not our code. */
function metaHeader(raw: Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
}

describe('verifySignature', () => {
  const raw = fixtureBuffer('textEscaped');

  it('the fixture really is Meta-escaped (6 ASCII chars for ä, \\/ for /, \\u0040 for @)', () => {
    const text = fixtures.textEscaped;
    expect(text).toContain('H\\u00e4llo');
    expect(text).toContain('https:\\/\\/kassangas.example\\/gitaa');
    expect(text).toContain('gideon\\u0040example.com');
    expect(text).toContain('\\ud83c\\udfb8');
    // Pure ASCII on the wire.
    expect(/^[\x20-\x7e]*$/.test(text)).toBe(true);
  });

  it('verifies the signature over the raw bytes', () => {
    expect(verifySignature(raw, metaHeader(raw, SECRET), SECRET)).toBe(true);
    expect(signBody(raw, SECRET)).toBe(metaHeader(raw, SECRET));
    expect(signBody(fixtures.textEscaped, SECRET)).toBe(metaHeader(raw, SECRET));
  });

  it('a re-serialised body does not verify with the original header (why raw bytes matter)', () => {
    const header = metaHeader(raw, SECRET);
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(fixtures.textEscaped)), 'utf8');
    expect(reserialised.equals(raw)).toBe(false);
    // Same JSON value, different bytes.
    expect(JSON.parse(reserialised.toString('utf8'))).toEqual(JSON.parse(fixtures.textEscaped));
    expect(verifySignature(reserialised, header, SECRET)).toBe(false);
  });

  it('each escape alone breaks a re-serialised signature: non-ASCII, slash and @', () => {
    for (const raw of [
      '{"a":"J\\u00f6rg"}', // 6 ASCII characters for ö
      '{"a":"https:\\/\\/x.example\\/p"}',
      '{"a":"me\\u0040example.com"}',
    ]) {
      const header = signBody(raw, SECRET);
      expect(verifySignature(Buffer.from(raw), header, SECRET)).toBe(true);
      const again = Buffer.from(JSON.stringify(JSON.parse(raw)));
      expect(verifySignature(again, header, SECRET)).toBe(false);
    }
  });

  it('verifies every fixture', () => {
    for (const name of Object.keys(fixtures) as (keyof typeof fixtures)[]) {
      const buf = fixtureBuffer(name);
      expect(verifySignature(buf, signBody(buf, SECRET), SECRET), name).toBe(true);
    }
  });

  it('accepts upper-case hex', () => {
    const header = metaHeader(raw, SECRET);
    const upper = `sha256=${header.slice('sha256='.length).toUpperCase()}`;
    expect(verifySignature(raw, upper, SECRET)).toBe(true);
  });

  it('rejects missing, malformed and wrong headers without throwing', () => {
    const good = metaHeader(raw, SECRET);
    const hex = good.slice('sha256='.length);
    const sha1 = `sha1=${createHmac('sha1', SECRET).update(raw).digest('hex')}`;
    const cases: (string | undefined)[] = [
      undefined,
      '',
      'sha256=',
      sha1,
      hex, // no prefix
      `SHA256=${hex}`, // prefix is case-sensitive, as Meta sends it
      `sha256=${hex.slice(0, 63)}`, // 63 hex digits
      `sha256=${hex}0`, // 65
      `sha256=${hex.slice(0, 62)}zz`, // non-hex
      `sha256=${hex.slice(0, 62)}  `,
      ` ${good}`,
      `${good} `,
      `${good},${good}`,
      `sha256=${'0'.repeat(64)}`,
      `sha256=${'a'.repeat(100_000)}`,
    ];
    for (const header of cases) {
      expect(verifySignature(raw, header, SECRET), String(header).slice(0, 80)).toBe(false);
    }
  });

  it('rejects the wrong secret, an empty secret and a tampered body', () => {
    const header = metaHeader(raw, SECRET);
    expect(verifySignature(raw, header, `${SECRET}x`)).toBe(false);
    expect(verifySignature(raw, header, '')).toBe(false);
    expect(verifySignature(raw, metaHeader(raw, ''), '')).toBe(false);
    const tampered = Buffer.from(raw);
    tampered[tampered.length - 3] = 0x20;
    expect(verifySignature(tampered, header, SECRET)).toBe(false);
  });

  it('never throws on wrong types', () => {
    const weird: unknown[] = [null, 42, {}, [], 'string body', Symbol('x')];
    for (const w of weird) {
      expect(verifySignature(w as Buffer, 'sha256=' + '0'.repeat(64), SECRET)).toBe(false);
      expect(verifySignature(raw, w as string, SECRET)).toBe(false);
      expect(verifySignature(raw, metaHeader(raw, SECRET), w as string)).toBe(false);
    }
    expect(verifySignature(raw, [metaHeader(raw, SECRET)], SECRET)).toBe(false);
  });

  it('works on an empty body', () => {
    const empty = Buffer.alloc(0);
    expect(verifySignature(empty, metaHeader(empty, SECRET), SECRET)).toBe(true);
  });
});

describe('hmacSha256', () => {
  it('gives createHmac\'s bytes for short, block-sized and long keys and bodies of every size class', () => {
    let seed = 7;
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
    const keys = ['', 'k', SECRET, 'x'.repeat(63), 'y'.repeat(64), 'z'.repeat(65), 'ключ-🔑'.repeat(20)];
    const sizes = [0, 1, 55, 56, 63, 64, 65, 499, 4096, 64 * 1024, 64 * 1024 + 1, 200_000];
    for (const key of keys) {
      for (const size of sizes) {
        const body = bytes(size);
        expect(hmacSha256(key, body).toString('hex'), `key ${key.length} chars, body ${size} bytes`).toBe(
          createHmac('sha256', key).update(body).digest('hex'),
        );
      }
    }
    // a Uint8Array view into a larger buffer hashes only its own bytes
    const big = bytes(1000);
    const view = new Uint8Array(big.buffer, big.byteOffset + 100, 300);
    expect(hmacSha256(SECRET, view).equals(createHmac('sha256', SECRET).update(view).digest())).toBe(true);
  });
});
