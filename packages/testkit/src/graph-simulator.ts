// A loopback stand-in for Meta's WhatsApp Cloud (Graph) API: /messages sends and read
// receipts, debug_token, media metadata and download, with Meta's error shapes and
// injectable faults (latency, throughput/pair limits, expired tokens, 5xx, hung requests);
// optionally, the status webhooks (sent, delivered…) Meta posts for each accepted message.
import { createHash, randomBytes } from 'node:crypto';
import { buildStatusWebhook, signBody } from '@alphadome/whatsapp';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  bearerToken,
  createRng,
  describePredicate,
  pickLatency,
  readBody,
  sendJson,
  splitUrl,
  startLoopbackServer,
  Waiters,
} from './http-util.ts';
import type { Latency, LoopbackServer, Rng } from './http-util.ts';
import {
  expiredTokenSpec,
  fbtraceId,
  GRAPH_ERRORS,
  graphErrorBody,
  invalidParameter,
  MISSING_TOKEN,
  UNPARSEABLE_TOKEN,
} from './graph-errors.ts';
import type { GraphErrorKind, GraphErrorSpec } from './graph-errors.ts';
import { validateMessageBody } from './graph-validate.ts';

/** A fault the simulator can inject into POST /messages: one of Meta's errors, a random 500/503, or a hung request. */
export type GraphFaultKind = GraphErrorKind | '5xx' | 'timeout';
/** One step of a scripted fault queue; 'ok' lets a request through. */
export type GraphScriptStep = GraphFaultKind | 'ok';

export interface GraphFaults {
  /** Delay before answering: fixed ms, or uniform in [min, max]. */
  latencyMs?: Latency;
  /** Probability per request of each fault (drawn once per request from the seeded PRNG). */
  rates?: Partial<Record<GraphFaultKind, number>>;
}

export interface GraphSimulatorOptions {
  port?: number;
  host?: string;
  /** PRNG seed for fault draws and latency ranges; same seed → same sequence. */
  seed?: number;
  /** Refuse tokens that were not registered with setToken() (default: accept them). */
  strictTokens?: boolean;
  faults?: GraphFaults;
  /** Check bodies the way Meta does (required fields, interactive limits). Default true. */
  validate?: boolean;
  /** Store parsed bodies in records (default true); benchmarks may turn this off to save memory. */
  recordBodies?: boolean;
  /** Post status webhooks for accepted messages, as Meta does (off unless given; see setStatusWebhooks). */
  statusWebhooks?: StatusWebhookOptions;
}

/** The message status webhooks Meta posts to an app's callback URL for every accepted message. */
export interface StatusWebhookOptions {
  /** Where to POST them, e.g. `${ingressUrl}/webhooks/whatsapp`. */
  url: string;
  /** The Meta app secret they are signed with (X-Hub-Signature-256 over the exact bytes posted). */
  appSecret: string;
  /** Which statuses, in order (default sent, delivered). */
  statuses?: readonly ('sent' | 'delivered' | 'read')[];
  /** Delay of each status after the previous one (after the send's answer for the first); default 20–200 ms. */
  delayMs?: Latency;
  /** `metadata.display_phone_number` for a phone number id (default: the id itself). */
  displayPhoneNumber?: (phoneNumberId: string) => string;
  /** Like Meta, retry a POST not answered 2xx (backing off up to 2 s) until this long after the first try; default 120 000. */
  retryForMs?: number;
}

/** One status webhook the simulator posted (or is still trying to post). */
export interface StatusDeliveryRecord {
  wamid: string;
  status: string;
  phoneNumberId: string;
  /** the send's biz_opaque_callback_data, echoed in the status, when it had one */
  callbackData?: string;
  /** POSTs made so far */
  attempts: number;
  /** HTTP status of the last POST (0 = no answer) */
  lastStatus: number;
  /** ms since epoch when answered 2xx; absent while still retrying or given up */
  deliveredAt?: number;
  gaveUp?: boolean;
}

export interface TokenInfo {
  valid?: boolean;
  expiresAt?: Date | null;
  appId?: string;
  scopes?: string[];
}

/** The fields of a /messages body tests usually look at; anything else is kept as sent. */
export interface GraphMessageBody {
  messaging_product?: string;
  recipient_type?: string;
  to?: string;
  type?: string;
  text?: { body: string; preview_url?: boolean };
  interactive?: Record<string, any>;
  template?: Record<string, any>;
  context?: { message_id: string };
  status?: string;
  message_id?: string;
  typing_indicator?: { type: string };
  [key: string]: unknown;
}

export type GraphOutcome = 'ok' | 'error' | 'timeout';

export interface GraphRequestRecord {
  /** 'send' = a message, 'read' = mark-as-read, 'invalid' = body was not JSON. */
  kind: 'send' | 'read' | 'invalid';
  phoneNumberId: string;
  version: string;
  token: string | null;
  body: GraphMessageBody;
  /** ms since epoch when the request arrived. */
  receivedAt: number;
  /** ms since epoch when the answer was written (absent for 'timeout'). */
  respondedAt?: number;
  outcome: GraphOutcome;
  /** HTTP status answered (0 when never answered). */
  status: number;
  /** Meta error code, for outcome 'error' (and 'timeout' has none). */
  errorCode?: number;
  /** The wamid returned, for successful sends. */
  messageId?: string;
}

export interface DebugTokenRecord {
  inputToken: string | null;
  appToken: string | null;
  receivedAt: number;
}

export interface MediaRequestRecord {
  kind: 'metadata' | 'download';
  mediaId: string;
  token: string | null;
  receivedAt: number;
  status: number;
}

export interface MediaEntry {
  mimeType: string;
  bytes: Buffer;
}

const VERSION_RE = /^v\d+\.\d+$/;
const RATE_ORDER: readonly GraphFaultKind[] = [
  'timeout',
  '5xx',
  '500',
  '503',
  '190',
  '130429',
  '131056',
  '131026',
  '131047',
  '131048',
  '131000',
  '131016',
  '131005',
  '368',
  '80007',
  '4',
];
const MAX_BODY = 1024 * 1024;
const ANY_PHONE = '*';

type Reply = { status: number; body: unknown; headers?: Record<string, string> };

export class GraphSimulator {
  /** Every POST /messages, in the order answered (hung requests when they arrive). */
  readonly received: GraphRequestRecord[] = [];
  readonly debugTokenCalls: DebugTokenRecord[] = [];
  readonly mediaRequests: MediaRequestRecord[] = [];
  /** Status webhooks posted (with statusWebhooks configured), in the order scheduled. */
  readonly statusDeliveries: StatusDeliveryRecord[] = [];

  private loopback: LoopbackServer | undefined;
  private rng: Rng;
  private faults: GraphFaults;
  private readonly phoneFaults = new Map<string, GraphFaults>();
  /** Scripted steps per phone number id (ANY_PHONE = for every number). */
  private readonly scripts = new Map<string, GraphScriptStep[]>();
  private readonly tokens = new Map<string, TokenInfo>();
  private readonly media = new Map<string, MediaEntry>();
  private readonly waiters = new Waiters('GraphSimulator');
  private readonly instanceId = randomBytes(6).toString('hex').toUpperCase();
  private seq = 0;
  private statusHooks: StatusWebhookOptions | null;
  /** status delays draw from their own PRNG: turning webhooks on leaves the fault sequence as it was */
  private readonly statusRng: Rng;
  private readonly statusTimers = new Set<NodeJS.Timeout>();
  private readonly statusAborts = new Set<AbortController>();
  private closed = false;
  private answeringCount = 0;

  constructor(private readonly opts: GraphSimulatorOptions = {}) {
    this.rng = createRng(opts.seed);
    this.statusRng = createRng((opts.seed ?? 1) + 7919);
    this.faults = opts.faults ?? {};
    this.statusHooks = opts.statusWebhooks ?? null;
  }

  /** @internal use startGraphSimulator() */
  async listen(): Promise<this> {
    this.loopback = await startLoopbackServer((req, res) => this.handle(req, res), {
      host: this.opts.host,
      port: this.opts.port,
      name: 'graph-simulator',
    });
    return this;
  }

  /** e.g. http://127.0.0.1:41234 — use as GRAPH_API_BASE_URL. */
  get url(): string {
    if (!this.loopback) throw new Error('GraphSimulator is not listening');
    return this.loopback.url;
  }

  get port(): number {
    if (!this.loopback) throw new Error('GraphSimulator is not listening');
    return this.loopback.port;
  }

  /** Requests currently held open by a 'timeout' fault. */
  get heldCount(): number {
    return this.loopback?.heldCount ?? 0;
  }

  /** /messages requests read and decided on, whose answer is still being delayed (latencyMs). */
  get answering(): number {
    return this.answeringCount;
  }

  // ---- inspection -------------------------------------------------------------------

  /** Successful message sends (not read receipts, not errors). */
  sent(): GraphRequestRecord[] {
    return this.received.filter((r) => r.kind === 'send' && r.outcome === 'ok');
  }

  sentTo(phoneNumberId: string): GraphRequestRecord[] {
    return this.received.filter((r) => r.kind === 'send' && r.outcome === 'ok' && r.phoneNumberId === phoneNumberId);
  }

  /** Successful mark-as-read calls. */
  reads(): GraphRequestRecord[] {
    return this.received.filter((r) => r.kind === 'read' && r.outcome === 'ok');
  }

  /** Resolves with `received` once predicate(received) is true; rejects after timeoutMs. */
  async waitFor(
    predicate: (records: readonly GraphRequestRecord[]) => boolean,
    timeoutMs = 10_000,
  ): Promise<GraphRequestRecord[]> {
    await this.waiters.wait(() => predicate(this.received), timeoutMs, () => {
      const last = this.received
        .slice(-5)
        .map((r) => `${r.kind} ${r.phoneNumberId} ${r.outcome}${r.errorCode ? ` ${r.errorCode}` : ''}`);
      return `predicate ${describePredicate(predicate)} still false with ${this.received.length} request(s) recorded (${this.sent().length} successful sends); last: [${last.join('; ')}]`;
    });
    return this.received;
  }

  /** Shorthand: wait until at least `count` successful sends (optionally to one phone number id). */
  waitForSent(count: number, opts: { phoneNumberId?: string; timeoutMs?: number } = {}): Promise<GraphRequestRecord[]> {
    const { phoneNumberId, timeoutMs } = opts;
    const matching = () => (phoneNumberId === undefined ? this.sent() : this.sentTo(phoneNumberId));
    return this.waitFor(() => matching().length >= count, timeoutMs).then(matching);
  }

  /**
   * Largest number of successful sends from `phoneNumberId` whose receivedAt falls in any
   * window [t, t + windowMs) — what Meta's throughput limit would see.
   */
  maxInAnyWindow(phoneNumberId: string, windowMs = 1000): number {
    const times = this.sentTo(phoneNumberId)
      .map((r) => r.receivedAt)
      .sort((a, b) => a - b);
    let best = 0;
    let left = 0;
    for (let right = 0; right < times.length; right++) {
      while (times[right]! - times[left]! >= windowMs) left++;
      best = Math.max(best, right - left + 1);
    }
    return best;
  }

  // ---- configuration ----------------------------------------------------------------

  setToken(token: string, info: TokenInfo = {}): void {
    this.tokens.set(token, { ...info });
  }

  removeToken(token: string): void {
    this.tokens.delete(token);
  }

  addMedia(mediaId: string, entry: MediaEntry): void {
    this.media.set(mediaId, { mimeType: entry.mimeType, bytes: entry.bytes });
  }

  /**
   * Replace the fault settings — for every number, or (with phoneNumberId) for one number,
   * whose settings then take the place of the global ones. `setFaults({})` clears them.
   */
  setFaults(faults: GraphFaults, scope: { phoneNumberId?: string } = {}): void {
    if (scope.phoneNumberId === undefined) this.faults = { ...faults };
    else this.phoneFaults.set(scope.phoneNumberId, { ...faults });
  }

  /** The next n /messages requests (optionally to one number) fail with `kind`, before random rates apply. */
  failNext(n: number, kind: GraphFaultKind, scope: { phoneNumberId?: string } = {}): void {
    this.script(Array.from({ length: n }, () => kind), scope);
  }

  /** Append steps to the scripted queue, consumed one per /messages request, in order. */
  script(steps: readonly GraphScriptStep[], scope: { phoneNumberId?: string } = {}): void {
    const key = scope.phoneNumberId ?? ANY_PHONE;
    let queue = this.scripts.get(key);
    if (!queue) this.scripts.set(key, (queue = []));
    queue.push(...steps);
  }

  /**
   * Turn the status webhooks on (or change where they go), or off with null. Only messages
   * accepted after this call get them.
   */
  setStatusWebhooks(options: StatusWebhookOptions | null): void {
    this.statusHooks = options ? { ...options } : null;
  }

  /** Status webhooks not yet answered 2xx and not given up (still scheduled or retrying). */
  pendingStatusDeliveries(): number {
    return this.statusDeliveries.filter((d) => d.deliveredAt === undefined && !d.gaveUp).length;
  }

  /** Forget the recorded requests only. */
  clearRecords(): void {
    this.received.length = 0;
    this.debugTokenCalls.length = 0;
    this.mediaRequests.length = 0;
    this.statusDeliveries.length = 0;
  }

  /** Back to a fresh simulator: records, faults, scripts, tokens, media, PRNG sequence. */
  reset(): void {
    this.clearRecords();
    this.faults = this.opts.faults ?? {};
    this.phoneFaults.clear();
    this.scripts.clear();
    this.tokens.clear();
    this.media.clear();
    this.rng = createRng(this.opts.seed);
  }

  /** Closes the server, ending keep-alive sockets and requests held by 'timeout' faults, and stops posting statuses. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.statusTimers) clearTimeout(t);
    this.statusTimers.clear();
    for (const a of this.statusAborts) a.abort();
    this.waiters.rejectAll('closed');
    await this.loopback?.close();
  }

  // ---- request handling -------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const { path, query } = splitUrl(req.url);
    const segs = path.split('/');
    const version = segs[1] ?? '';
    if (req.method === 'POST' && segs.length === 4 && segs[3] === 'messages' && VERSION_RE.test(version)) {
      return this.handleMessages(req, res, version, segs[2]!, query);
    }
    if (req.method === 'GET' && segs.length === 3) {
      if (version === 'media-download') return this.handleDownload(req, res, decodeURIComponent(segs[2]!), query);
      if (VERSION_RE.test(version)) {
        if (segs[2] === 'debug_token') return this.handleDebugToken(req, res, query);
        return this.handleMediaInfo(req, res, decodeURIComponent(segs[2]!), query);
      }
    }
    req.resume();
    this.replyError(
      res,
      invalidParameter(
        `Unknown path components: ${path}`,
        2500,
      ),
      404,
    );
  }

  private async handleMessages(
    req: IncomingMessage,
    res: ServerResponse,
    version: string,
    phoneNumberId: string,
    query: URLSearchParams,
  ): Promise<void> {
    const receivedAt = Date.now();
    const token = bearerToken(req) ?? query.get('access_token');
    const raw = await readBody(req, MAX_BODY);

    let body: unknown;
    let parsed = true;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      parsed = false;
    }
    const { kind, error: invalid } = parsed
      ? this.opts.validate === false
        ? { kind: isReadBody(body) ? ('read' as const) : ('send' as const), error: null }
        : validateMessageBody(body)
      : { kind: 'invalid' as const, error: invalidParameter('(#100) Invalid JSON in request body') };

    const record: GraphRequestRecord = {
      kind,
      phoneNumberId,
      version,
      token,
      body: parsed && this.opts.recordBodies !== false && isObject(body) ? (body as GraphMessageBody) : {},
      receivedAt,
      outcome: 'ok',
      status: 200,
    };

    const effective = this.phoneFaults.get(phoneNumberId) ?? this.faults;
    let error: GraphErrorSpec | null = token === null ? MISSING_TOKEN : this.tokenProblem(token);
    if (!error && invalid) error = invalid;
    if (!error) {
      const step = this.nextStep(phoneNumberId, effective);
      if (step === 'timeout') {
        record.outcome = 'timeout';
        record.status = 0;
        this.loopback!.hold(res);
        this.record(record);
        return;
      }
      if (step !== 'ok') error = this.specFor(step);
    }

    let reply: Reply;
    /** set when the send is accepted: what its status webhooks need */
    let accepted: { wamid: string; to: string; callback: unknown } | undefined;
    if (error) {
      reply = this.errorReply(error);
      record.outcome = 'error';
      record.status = reply.status;
      record.errorCode = error.code;
    } else if (kind === 'read') {
      reply = { status: 200, body: { success: true } };
    } else {
      const b = body as GraphMessageBody;
      const to = String(b.to ?? (b as { recipient?: unknown }).recipient);
      const id = this.nextWamid(to);
      record.messageId = id;
      accepted = { wamid: id, to, callback: b['biz_opaque_callback_data'] };
      reply = {
        status: 200,
        body: {
          messaging_product: 'whatsapp',
          contacts: [{ input: to, wa_id: waId(to) }],
          messages: [b.type === 'template' ? { id, message_status: 'accepted' } : { id }],
        },
      };
    }

    const delay = pickLatency(this.rng, effective.latencyMs);
    this.answeringCount++;
    this.waiters.notify();
    this.loopback!.later(() => {
      this.answeringCount--;
      record.respondedAt = Date.now();
      sendJson(res, reply.status, reply.body, reply.headers);
      this.record(record);
      // accepted is accepted, whether or not the sender is still there to read the answer
      if (accepted) this.scheduleStatuses(phoneNumberId, accepted.wamid, accepted.to, accepted.callback);
    }, delay);
  }

  // ---- status webhooks --------------------------------------------------------------

  private scheduleStatuses(phoneNumberId: string, wamid: string, to: string, callback: unknown): void {
    const hooks = this.statusHooks;
    if (!hooks || this.closed) return;
    const statuses = hooks.statuses ?? ['sent', 'delivered'];
    let at = 0;
    for (const status of statuses) {
      at += pickLatency(this.statusRng, hooks.delayMs ?? { min: 20, max: 200 });
      const rec: StatusDeliveryRecord = { wamid, status, phoneNumberId, attempts: 0, lastStatus: 0 };
      if (typeof callback === 'string') rec.callbackData = callback;
      this.statusDeliveries.push(rec);
      // waId() leaves a business-scoped id as it is; buildStatusWebhook puts that in recipient_user_id
      const raw = buildStatusWebhook({
        phoneNumberId,
        displayPhoneNumber: hooks.displayPhoneNumber?.(phoneNumberId) ?? phoneNumberId,
        wamid,
        status,
        recipientId: waId(to),
        ...(rec.callbackData !== undefined ? { callbackData: rec.callbackData } : {}),
      });
      this.statusTimer(() => void this.postStatus(hooks, rec, raw, Date.now() + (hooks.retryForMs ?? 120_000)), at);
    }
  }

  private statusTimer(fn: () => void, ms: number): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.statusTimers.delete(t);
      fn();
    }, ms);
    t.unref?.();
    this.statusTimers.add(t);
  }

  private async postStatus(hooks: StatusWebhookOptions, rec: StatusDeliveryRecord, raw: string, giveUpAt: number): Promise<void> {
    if (this.closed) return;
    rec.attempts++;
    const abort = new AbortController();
    this.statusAborts.add(abort);
    const timer = setTimeout(() => abort.abort(), 10_000);
    try {
      const res = await fetch(hooks.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, hooks.appSecret) },
        body: raw,
        signal: abort.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      rec.lastStatus = res.status;
    } catch {
      rec.lastStatus = 0;
    } finally {
      clearTimeout(timer);
      this.statusAborts.delete(abort);
    }
    if (rec.lastStatus >= 200 && rec.lastStatus < 300) {
      rec.deliveredAt = Date.now();
      this.waiters.notify();
      return;
    }
    if (this.closed) return;
    if (Date.now() >= giveUpAt) {
      rec.gaveUp = true;
      this.waiters.notify();
      return;
    }
    this.statusTimer(() => void this.postStatus(hooks, rec, raw, giveUpAt), Math.min(2_000, 100 * 2 ** (rec.attempts - 1)));
  }

  private handleDebugToken(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
    req.resume();
    const appToken = bearerToken(req) ?? query.get('access_token');
    const inputToken = query.get('input_token');
    this.debugTokenCalls.push({ inputToken, appToken, receivedAt: Date.now() });
    this.waiters.notify();
    if (!appToken) {
      this.replyError(res, { status: 400, code: 104, message: 'An access token is required to request this resource.' });
      return;
    }
    if (!inputToken) {
      this.replyError(res, invalidParameter('(#100) The parameter input_token is required'));
      return;
    }
    const info = this.tokens.get(inputToken);
    const expiresAt = info?.expiresAt ?? null;
    const expired = expiresAt !== null && expiresAt.getTime() <= Date.now();
    const isValid = info ? info.valid !== false && !expired : !this.opts.strictTokens;
    const data: Record<string, unknown> = {
      app_id: info?.appId ?? '1234567890123456',
      type: 'SYSTEM_USER',
      application: 'Alphadome',
      data_access_expires_at: 0,
      expires_at: expiresAt ? Math.floor(expiresAt.getTime() / 1000) : 0,
      is_valid: isValid,
      scopes: info?.scopes ?? ['whatsapp_business_messaging', 'whatsapp_business_management'],
    };
    if (!isValid) {
      data.error = info
        ? { code: 190, message: expiredTokenSpec(expiresAt ?? new Date(Date.now() - 3_600_000)).message, subcode: 463 }
        : { code: 190, message: 'Invalid OAuth access token.' };
    }
    sendJson(res, 200, { data });
  }

  private handleMediaInfo(req: IncomingMessage, res: ServerResponse, mediaId: string, query: URLSearchParams): void {
    req.resume();
    const token = bearerToken(req) ?? query.get('access_token');
    const error = token === null ? MISSING_TOKEN : this.tokenProblem(token);
    const entry = this.media.get(mediaId);
    const rec: MediaRequestRecord = { kind: 'metadata', mediaId, token, receivedAt: Date.now(), status: 200 };
    if (error) {
      rec.status = this.replyError(res, error);
    } else if (!entry) {
      rec.status = this.replyError(
        res,
        {
          status: 400,
          code: 100,
          subcode: 33,
          message: `Unsupported get request. Object with ID '${mediaId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        },
      );
    } else {
      sendJson(res, 200, {
        url: `${this.url}/media-download/${encodeURIComponent(mediaId)}`,
        mime_type: entry.mimeType,
        sha256: createHash('sha256').update(entry.bytes).digest('hex'),
        file_size: entry.bytes.length,
        id: mediaId,
        messaging_product: 'whatsapp',
      });
    }
    this.mediaRequests.push(rec);
    this.waiters.notify();
  }

  private handleDownload(req: IncomingMessage, res: ServerResponse, mediaId: string, query: URLSearchParams): void {
    req.resume();
    const token = bearerToken(req) ?? query.get('access_token');
    const entry = this.media.get(mediaId);
    const rec: MediaRequestRecord = { kind: 'download', mediaId, token, receivedAt: Date.now(), status: 200 };
    if (token === null) {
      rec.status = this.replyError(res, MISSING_TOKEN);
    } else if (!entry) {
      rec.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 9 });
      res.end('Not Found');
    } else {
      res.writeHead(200, { 'content-type': entry.mimeType, 'content-length': entry.bytes.length });
      res.end(entry.bytes);
    }
    this.mediaRequests.push(rec);
    this.waiters.notify();
  }

  // ---- helpers ----------------------------------------------------------------------

  private record(rec: GraphRequestRecord): void {
    this.received.push(rec);
    this.waiters.notify();
  }

  private tokenProblem(token: string): GraphErrorSpec | null {
    const info = this.tokens.get(token);
    if (!info) return this.opts.strictTokens ? UNPARSEABLE_TOKEN : null;
    const expiresAt = info.expiresAt ?? null;
    if (expiresAt !== null && expiresAt.getTime() <= Date.now()) return expiredTokenSpec(expiresAt);
    if (info.valid === false) return expiredTokenSpec(expiresAt ?? new Date(Date.now() - 3_600_000));
    return null;
  }

  private nextStep(phoneNumberId: string, faults: GraphFaults): GraphScriptStep {
    const scripted = this.scripts.get(phoneNumberId)?.shift() ?? this.scripts.get(ANY_PHONE)?.shift();
    if (scripted !== undefined) return scripted;
    const rates = faults.rates;
    if (!rates) return 'ok';
    const r = this.rng();
    let acc = 0;
    for (const kind of RATE_ORDER) {
      const p = rates[kind];
      if (p) {
        acc += p;
        if (r < acc) return kind;
      }
    }
    return 'ok';
  }

  private specFor(kind: GraphErrorKind | '5xx'): GraphErrorSpec {
    if (kind === '5xx') return GRAPH_ERRORS[this.rng() < 0.5 ? '500' : '503'];
    if (kind === '190') return expiredTokenSpec(new Date(Date.now() - 3_600_000));
    return GRAPH_ERRORS[kind];
  }

  private errorReply(spec: GraphErrorSpec): Reply {
    const traceId = fbtraceId();
    const headers: Record<string, string> = { 'x-fb-trace-id': traceId };
    if (spec.status === 401) headers['www-authenticate'] = `OAuth "Facebook Platform" "invalid_token" "${spec.message}"`;
    return { status: spec.status, body: graphErrorBody(spec, traceId), headers };
  }

  /** Writes the error; returns the HTTP status used. */
  private replyError(res: ServerResponse, spec: GraphErrorSpec, status = spec.status): number {
    const reply = this.errorReply(spec);
    sendJson(res, status, reply.body, reply.headers);
    return status;
  }

  private nextWamid(to: string): string {
    // Real wamids are base64 of an opaque binary blob that embeds the recipient; ours embed
    // the recipient, this instance and a counter, so they are unique and look the part.
    const n = (++this.seq).toString(16).toUpperCase().padStart(10, '0');
    return `wamid.${Buffer.from(`\u0018\f${to}\u0015\u0002\u0000\u0011\u0018\u0012${this.instanceId}${n}\u0000`).toString('base64')}`;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isReadBody(v: unknown): boolean {
  return isObject(v) && v.status !== undefined;
}

/** Meta answers wa_id as digits only for phone numbers; business-scoped ids pass through. */
function waId(to: string): string {
  return /^\+?[\d\s().-]+$/.test(to) ? to.replace(/\D/g, '') : to;
}

export async function startGraphSimulator(opts: GraphSimulatorOptions = {}): Promise<GraphSimulator> {
  return new GraphSimulator(opts).listen();
}
