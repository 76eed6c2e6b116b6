/**
 * A small client for the WhatsApp Cloud API on Meta's Graph API.
 *
 * Every call has a timeout (AbortSignal.timeout), failures become one GraphApiError whose
 * `policy` says what to do (see error-policy.ts), and access tokens travel only in the
 * Authorization header (and, for debug_token, the one `input_token` query parameter Meta
 * requires). Nothing that holds a token — URL, headers, the fetch error and its cause — is
 * ever put into an error, and every string taken from Meta's answer is scrubbed of the tokens
 * (Meta echoes a malformed token back in its error message).
 *
 * Connections are reused: Node's global fetch keeps connections alive through undici's global
 * dispatcher, so consecutive sends to graph.facebook.com share TLS sessions.
 */
import {
  GRAPH_INVALID_RESPONSE_CODE,
  GRAPH_NETWORK_CODE,
  GRAPH_REFUSED_REQUEST_CODE,
  GRAPH_TIMEOUT_CODE,
  httpStatusErrorCode,
} from './error-policy.ts';
import { GraphApiError } from './graph-api-error.ts';

export interface GraphClientOptions {
  /** Default https://graph.facebook.com (tests and the demo point this at the simulator). */
  baseUrl?: string;
  /** Default v23.0. */
  version?: string;
  /** Per-request timeout, default 10 000 ms. */
  timeoutMs?: number;
  userAgent?: string;
  /**
   * Hosts downloadMedia may send a token to, besides the baseUrl host. Default: Meta's media
   * hosts (lookaside.fbsbx.com and other *.fbsbx.com / *.facebook.com / *.whatsapp.net).
   */
  mediaHosts?: (hostname: string) => boolean;
}

export interface SendMessageResult {
  wamid: string;
}

export interface SendMessageOptions {
  /**
   * Meta's `biz_opaque_callback_data`: an arbitrary string (at most 512 characters) that Cloud
   * API does not process but echoes in the sent/delivered/read status webhooks of this message.
   * Lets a sender whose answer was lost (a crash, a timeout) learn from the status webhook that
   * Meta accepted the message, and which wamid it got. Never put a secret in it: every app
   * subscribed to the business account's webhooks sees it.
   */
  callbackData?: string;
}

/** Meta's limit on `biz_opaque_callback_data`. */
export const CALLBACK_DATA_MAX_LENGTH = 512;

export interface DebugTokenResult {
  isValid: boolean;
  /** null when the token never expires (system-user tokens report 0). */
  expiresAt: Date | null;
  scopes: string[];
}

export interface MediaUrlResult {
  /** Short-lived download URL (about 5 minutes); fetch it with downloadMedia and the same token. */
  url: string;
  mimeType: string | undefined;
  sha256: string | undefined;
  fileSize: number | undefined;
}

export interface DownloadMediaOptions {
  /** Refuse bodies larger than this; default 100 MiB (WhatsApp's document limit). */
  maxBytes?: number;
  /** Default: 6 × the client's timeout, since media can be large. */
  timeoutMs?: number;
}

export interface GraphClient {
  /** POST /{phoneNumberId}/messages; returns the wamid Meta assigned. */
  sendMessage(phoneNumberId: string, token: string, payload: object, opts?: SendMessageOptions): Promise<SendMessageResult>;
  /** Marks an inbound message read (blue ticks); `typing` also shows the typing indicator. */
  markRead(phoneNumberId: string, token: string, wamid: string, opts?: { typing?: boolean }): Promise<void>;
  /** GET /debug_token: validity, expiry and scopes of `inputToken`, asked with `appToken`. */
  debugToken(inputToken: string, appToken: string): Promise<DebugTokenResult>;
  /** GET /{mediaId}: where to download an inbound media object. */
  getMediaUrl(mediaId: string, token: string): Promise<MediaUrlResult>;
  /** Downloads a media URL from getMediaUrl (the token goes only to Meta's / the base host). */
  downloadMedia(url: string, token: string, opts?: DownloadMediaOptions): Promise<Buffer>;
}

const DEFAULT_MAX_MEDIA_BYTES = 100 * 1024 * 1024;
const MAX_ERROR_TEXT = 500;
/** Meta access tokens start with EAA; scrub any that appear even if they are not ours. */
const META_TOKEN_PATTERN = /EAA[A-Za-z0-9_-]{16,}/g;

function defaultMediaHosts(hostname: string): boolean {
  return (
    hostname === 'lookaside.fbsbx.com' ||
    hostname.endsWith('.fbsbx.com') ||
    hostname.endsWith('.facebook.com') ||
    hostname.endsWith('.whatsapp.net')
  );
}

type Redactor = (s: string) => string;

function redactorFor(secrets: readonly string[]): Redactor {
  const list = secrets.filter((s) => typeof s === 'string' && s.length > 0);
  return (s: string) => {
    let out = s;
    for (const secret of list) out = out.split(secret).join('[redacted]');
    return out.replace(META_TOKEN_PATTERN, '[redacted]').slice(0, MAX_ERROR_TEXT);
  };
}

function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function asNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Builds the error for a failed fetch (nothing from the original error is carried over). */
function transportError(err: unknown, operation: string): GraphApiError {
  const name = isObject(err) || err instanceof Error ? (err as { name?: unknown }).name : undefined;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new GraphApiError({ code: GRAPH_TIMEOUT_CODE, title: 'Request timed out', operation });
  }
  // undici: TypeError('fetch failed', { cause: Error & { code: 'ECONNREFUSED' } }). Keep only
  // the code, a short uppercase identifier that cannot carry a token.
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  const causeCode = typeof cause?.code === 'string' && /^[A-Z0-9_]{1,40}$/.test(cause.code) ? cause.code : undefined;
  return new GraphApiError({
    code: GRAPH_NETWORK_CODE,
    title: 'Network error',
    details: causeCode,
    operation,
  });
}

/** Maps a non-2xx answer to a GraphApiError, by Meta's error code when the body has one. */
function httpError(status: number, bodyText: string, redact: Redactor, operation: string): GraphApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  const e = isObject(parsed) && isObject(parsed['error']) ? parsed['error'] : undefined;
  const code = e ? asNumber(e['code']) : undefined;
  if (!e || code === undefined) {
    return new GraphApiError({
      code: httpStatusErrorCode(status),
      httpStatus: status,
      title: `HTTP ${status} without a Graph API error body`,
      operation,
    });
  }
  const errorData = isObject(e['error_data']) ? e['error_data'] : undefined;
  const title = asString(e['message']) ?? asString(e['error_user_title']) ?? 'Graph API error';
  const details = asString(errorData?.['details']) ?? asString(e['error_user_msg']);
  const fbtraceId = asString(e['fbtrace_id']);
  const type = asString(e['type']);
  return new GraphApiError({
    code,
    subcode: asNumber(e['error_subcode']),
    httpStatus: status,
    title: redact(title),
    details: details !== undefined ? redact(details) : undefined,
    fbtraceId: fbtraceId !== undefined ? redact(fbtraceId).slice(0, 100) : undefined,
    type: type !== undefined ? redact(type).slice(0, 100) : undefined,
    isTransient: e['is_transient'] === true,
    operation,
  });
}

/**
 * A token that cannot go into an HTTP header would make fetch throw a TypeError that looks like
 * a network failure (and be retried forever). Meta answers 190 to a malformed token; so do we,
 * without sending it.
 */
function assertSendableToken(token: string, operation: string): void {
  if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) {
    throw new GraphApiError({ code: 190, title: 'Access token is empty or malformed (not sent)', operation });
  }
}

function invalidResponse(status: number, what: string, operation: string): GraphApiError {
  return new GraphApiError({
    code: GRAPH_INVALID_RESPONSE_CODE,
    httpStatus: status,
    title: `Unexpected Graph API response: ${what}`,
    operation,
  });
}

export function createGraphClient(options: GraphClientOptions = {}): GraphClient {
  const baseUrl = (options.baseUrl ?? 'https://graph.facebook.com').replace(/\/+$/, '');
  const version = (options.version ?? 'v23.0').replace(/^\/+|\/+$/g, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const userAgent = options.userAgent ?? 'alphadome-whatsapp/0.1';
  const mediaHosts = options.mediaHosts ?? defaultMediaHosts;
  const baseHost = new URL(baseUrl).hostname;

  const pathFor = (...segments: string[]): string =>
    `${baseUrl}/${version}/${segments.map((s) => encodeURIComponent(s)).join('/')}`;

  /** One JSON request; returns the parsed 2xx body or throws a GraphApiError. */
  async function requestJson(
    operation: string,
    method: 'GET' | 'POST',
    url: string,
    token: string,
    secrets: readonly string[],
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const redact = redactorFor(secrets);
    assertSendableToken(token, operation);
    // Outside the try below: an unserialisable payload is a bug, not a network error to retry.
    const payload = body !== undefined ? JSON.stringify(body) : null;
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      'user-agent': userAgent,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const res = await fetch(url, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      // Read under the same timeout signal: a server that stalls mid-body also times out.
      text = await res.text();
    } catch (err) {
      throw transportError(err, operation);
    }
    if (status < 200 || status > 299) throw httpError(status, text, redact, operation);
    try {
      return { status, json: text === '' ? undefined : JSON.parse(text) };
    } catch {
      throw invalidResponse(status, 'body is not JSON', operation);
    }
  }

  return {
    async sendMessage(phoneNumberId, token, payload, opts) {
      const op = 'sendMessage';
      let body: object = payload;
      if (opts?.callbackData !== undefined) {
        // a caller bug, not a network error to retry: refuse before sending
        if (opts.callbackData.length === 0 || [...opts.callbackData].length > CALLBACK_DATA_MAX_LENGTH) {
          throw new RangeError(`callbackData must be 1 to ${CALLBACK_DATA_MAX_LENGTH} characters`);
        }
        body = { ...payload, biz_opaque_callback_data: opts.callbackData };
      }
      const { status, json } = await requestJson(op, 'POST', pathFor(phoneNumberId, 'messages'), token, [token], body);
      const messages = isObject(json) && Array.isArray(json['messages']) ? json['messages'] : undefined;
      const first: unknown = messages?.[0];
      const wamid = isObject(first) ? asString(first['id']) : undefined;
      if (!wamid) throw invalidResponse(status, 'no message id', op);
      return { wamid };
    },

    async markRead(phoneNumberId, token, wamid, opts) {
      const body: Record<string, unknown> = { messaging_product: 'whatsapp', status: 'read', message_id: wamid };
      if (opts?.typing) body['typing_indicator'] = { type: 'text' };
      await requestJson('markRead', 'POST', pathFor(phoneNumberId, 'messages'), token, [token], body);
    },

    async debugToken(inputToken, appToken) {
      const op = 'debugToken';
      const url = `${pathFor('debug_token')}?input_token=${encodeURIComponent(inputToken)}`;
      const { status, json } = await requestJson(op, 'GET', url, appToken, [inputToken, appToken]);
      const data = isObject(json) && isObject(json['data']) ? json['data'] : undefined;
      if (!data) throw invalidResponse(status, 'no data', op);
      const expires = asNumber(data['expires_at']);
      const scopes = Array.isArray(data['scopes'])
        ? data['scopes'].filter((s): s is string => typeof s === 'string')
        : [];
      return {
        isValid: data['is_valid'] === true,
        expiresAt: expires !== undefined && expires > 0 ? new Date(expires * 1000) : null,
        scopes,
      };
    },

    async getMediaUrl(mediaId, token) {
      const op = 'getMediaUrl';
      const { status, json } = await requestJson(op, 'GET', pathFor(mediaId), token, [token]);
      const url = isObject(json) ? asString(json['url']) : undefined;
      if (!url || !isObject(json)) throw invalidResponse(status, 'no media url', op);
      const size = json['file_size'];
      return {
        url,
        mimeType: asString(json['mime_type']),
        sha256: asString(json['sha256']),
        fileSize: typeof size === 'number' ? size : typeof size === 'string' && /^\d+$/.test(size) ? Number(size) : undefined,
      };
    },

    async downloadMedia(url, token, opts) {
      const op = 'downloadMedia';
      const maxBytes = opts?.maxBytes ?? DEFAULT_MAX_MEDIA_BYTES;
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        throw new GraphApiError({ code: GRAPH_REFUSED_REQUEST_CODE, title: 'Media URL is not a URL', operation: op });
      }
      const hostAllowed =
        (target.protocol === 'https:' || target.protocol === 'http:') &&
        (target.hostname === baseHost || mediaHosts(target.hostname));
      if (!hostAllowed) {
        throw new GraphApiError({
          code: GRAPH_REFUSED_REQUEST_CODE,
          title: 'Media URL host is not a Meta host; the token is not sent there',
          operation: op,
        });
      }
      assertSendableToken(token, op);
      const redact = redactorFor([token]);
      let status: number;
      let chunks: Buffer[] = [];
      let errorText = '';
      try {
        const res = await fetch(target, {
          headers: { authorization: `Bearer ${token}`, 'user-agent': userAgent },
          signal: AbortSignal.timeout(opts?.timeoutMs ?? timeoutMs * 6),
        });
        status = res.status;
        if (status < 200 || status > 299) {
          errorText = await res.text();
        } else {
          const declared = Number(res.headers.get('content-length') ?? NaN);
          if (Number.isFinite(declared) && declared > maxBytes) {
            await res.body?.cancel().catch(() => undefined);
            throw new GraphApiError({
              code: GRAPH_REFUSED_REQUEST_CODE,
              httpStatus: status,
              title: `Media larger than ${maxBytes} bytes`,
              operation: op,
            });
          }
          let total = 0;
          if (res.body) {
            for await (const chunk of res.body) {
              total += chunk.byteLength;
              if (total > maxBytes) {
                chunks = [];
                throw new GraphApiError({
                  code: GRAPH_REFUSED_REQUEST_CODE,
                  httpStatus: status,
                  title: `Media larger than ${maxBytes} bytes`,
                  operation: op,
                });
              }
              chunks.push(Buffer.from(chunk));
            }
          }
        }
      } catch (err) {
        if (err instanceof GraphApiError) throw err;
        throw transportError(err, op);
      }
      if (status < 200 || status > 299) throw httpError(status, errorText, redact, op);
      return Buffer.concat(chunks);
    },
  };
}
