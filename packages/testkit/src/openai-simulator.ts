// A loopback OpenAI-compatible server: chat completions (JSON and SSE), audio
// transcriptions and the model list, with OpenAI's error shapes and injectable faults.
import { createHash, randomBytes } from 'node:crypto';
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
import { groundedAnswer, messageText } from './grounded-responder.ts';
import type { ChatMessage } from './grounded-responder.ts';

export type OpenAIFaultKind = 'error' | '429' | 'timeout';
export type OpenAIScriptStep = OpenAIFaultKind | 'ok';

export interface OpenAIFaults {
  /** Delay before answering: fixed ms, or uniform in [min, max]. */
  latencyMs?: Latency;
  /** Probability of HTTP 500 (server_error). */
  errorRate?: number;
  /** Probability of HTTP 429 (rate_limit_exceeded). */
  rateLimitRate?: number;
  /** Probability of never answering. */
  timeoutRate?: number;
}

export interface ChatRequest {
  apiKey: string | null;
  model: string;
  messages: ChatMessage[];
  body: Record<string, unknown>;
}

export type Responder = (req: ChatRequest) => string | Promise<string>;

export interface OpenAISimulatorOptions {
  port?: number;
  host?: string;
  seed?: number;
  /** Reply content; default: the grounded Q/A responder (HANDOVER when ungrounded). */
  respond?: Responder;
  faults?: OpenAIFaults;
  /** Ids listed by GET /v1/models. */
  models?: string[];
  /** When set, only these API keys are accepted (others get 401 invalid_api_key). */
  apiKeys?: string[];
  /** Default transcript for /v1/audio/transcriptions. */
  transcript?: string;
}

export type OpenAIOutcome = 'ok' | 'error' | 'timeout';

export interface ChatRequestRecord {
  apiKey: string | null;
  model: string;
  messages: ChatMessage[];
  body: Record<string, unknown>;
  stream: boolean;
  receivedAt: number;
  respondedAt?: number;
  outcome: OpenAIOutcome;
  /** HTTP status answered (0 when never answered). */
  status: number;
  /** The assistant content returned, for outcome 'ok'. */
  reply?: string;
  usage?: Usage;
}

export interface TranscriptionRecord {
  apiKey: string | null;
  model: string;
  fileName: string | null;
  mimeType: string | null;
  bytes: Buffer;
  receivedAt: number;
  outcome: OpenAIOutcome;
  status: number;
  text?: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'whisper-1'];
const MAX_BODY = 26 * 1024 * 1024; // OpenAI's audio upload limit is 25 MB

const estimateTokens = (chars: number) => Math.ceil(chars / 4);

function openAIError(message: string, type: string, code: string | null = null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

type Failure = { status: number; body: unknown; headers?: Record<string, string> };

export class OpenAISimulator {
  /** Chat completion requests, in the order answered (hung ones when they arrive). */
  readonly requests: ChatRequestRecord[] = [];
  readonly transcriptions: TranscriptionRecord[] = [];

  private loopback: LoopbackServer | undefined;
  private rng: Rng;
  private faults: OpenAIFaults;
  private queue: OpenAIScriptStep[] = [];
  private responder: Responder;
  private apiKeys: Set<string> | null;
  private defaultTranscript: string | undefined;
  private readonly transcripts = new Map<string, string>();
  private readonly waiters = new Waiters('OpenAISimulator');

  constructor(private readonly opts: OpenAISimulatorOptions = {}) {
    this.rng = createRng(opts.seed);
    this.faults = opts.faults ?? {};
    this.responder = opts.respond ?? defaultResponder;
    this.apiKeys = opts.apiKeys ? new Set(opts.apiKeys) : null;
    this.defaultTranscript = opts.transcript;
  }

  /** @internal use startOpenAISimulator() */
  async listen(): Promise<this> {
    this.loopback = await startLoopbackServer((req, res) => this.handle(req, res), {
      host: this.opts.host,
      port: this.opts.port,
      name: 'openai-simulator',
    });
    return this;
  }

  /** e.g. http://127.0.0.1:41235 (no /v1). */
  get url(): string {
    if (!this.loopback) throw new Error('OpenAISimulator is not listening');
    return this.loopback.url;
  }

  /** What the openai SDK takes as baseURL / OPENAI_BASE_URL: http://127.0.0.1:PORT/v1 */
  get baseURL(): string {
    return `${this.url}/v1`;
  }

  get heldCount(): number {
    return this.loopback?.heldCount ?? 0;
  }

  // ---- configuration ----------------------------------------------------------------

  setResponder(responder: Responder | null): void {
    this.responder = responder ?? defaultResponder;
  }

  /** Replaces the fault settings; setFaults({}) clears them. */
  setFaults(faults: OpenAIFaults): void {
    this.faults = { ...faults };
  }

  /** The next n requests (chat or transcription) fail with `kind`, before random rates apply. */
  failNext(n: number, kind: OpenAIFaultKind): void {
    for (let i = 0; i < n; i++) this.queue.push(kind);
  }

  /** Append steps to the scripted queue, consumed one per chat/transcription request. */
  script(steps: readonly OpenAIScriptStep[]): void {
    this.queue.push(...steps);
  }

  /** null = accept any key. */
  setApiKeys(keys: readonly string[] | null): void {
    this.apiKeys = keys ? new Set(keys) : null;
  }

  /** Transcript for audio with exactly these bytes, or (without bytes) for any audio. */
  setTranscript(text: string, forBytes?: Buffer): void {
    if (forBytes) this.transcripts.set(sha256(forBytes), text);
    else this.defaultTranscript = text;
  }

  /**
   * The transcript returned for these bytes: one registered for them, else the default set
   * with setTranscript(text), else the bytes themselves when they are printable UTF-8 text
   * (so a test's "voice note" can simply be the words), else ''.
   */
  transcriptFor(bytes: Buffer): string {
    const registered = this.transcripts.get(sha256(bytes));
    if (registered !== undefined) return registered;
    if (this.defaultTranscript !== undefined) return this.defaultTranscript;
    const text = bytes.toString('utf8');
    return bytes.length > 0 && !text.includes('\uFFFD') && !/[\u0000-\u0008\u000E-\u001F]/.test(text) ? text.trim() : '';
  }

  // ---- inspection -------------------------------------------------------------------

  /** Resolves with `requests` once predicate(requests) is true; rejects after timeoutMs. */
  async waitFor(
    predicate: (records: readonly ChatRequestRecord[]) => boolean,
    timeoutMs = 10_000,
  ): Promise<ChatRequestRecord[]> {
    await this.waiters.wait(() => predicate(this.requests), timeoutMs, () => {
      const last = this.requests.slice(-5).map((r) => `${r.model} ${r.outcome} ${r.status}`);
      return `predicate ${describePredicate(predicate)} still false with ${this.requests.length} chat request(s) recorded; last: [${last.join('; ')}]`;
    });
    return this.requests;
  }

  clearRecords(): void {
    this.requests.length = 0;
    this.transcriptions.length = 0;
  }

  /** Back to a fresh simulator: records, faults, script, responder, keys, transcripts, PRNG. */
  reset(): void {
    this.clearRecords();
    this.faults = this.opts.faults ?? {};
    this.queue = [];
    this.responder = this.opts.respond ?? defaultResponder;
    this.apiKeys = this.opts.apiKeys ? new Set(this.opts.apiKeys) : null;
    this.defaultTranscript = this.opts.transcript;
    this.transcripts.clear();
    this.rng = createRng(this.opts.seed);
  }

  async close(): Promise<void> {
    this.waiters.rejectAll('closed');
    await this.loopback?.close();
  }

  // ---- request handling -------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const { path } = splitUrl(req.url);
    const route = path.endsWith('/') && path.length > 1 ? path.slice(0, -1) : path;
    if (req.method === 'POST' && route === '/v1/chat/completions') return this.handleChat(req, res);
    if (req.method === 'POST' && route === '/v1/audio/transcriptions') return this.handleTranscription(req, res);
    req.resume();
    if (req.method === 'GET' && route === '/v1/models') {
      sendJson(res, 200, { object: 'list', data: this.models().map(modelObject) });
      return;
    }
    if (req.method === 'GET' && route.startsWith('/v1/models/')) {
      const id = decodeURIComponent(route.slice('/v1/models/'.length));
      if (this.models().includes(id)) sendJson(res, 200, modelObject(id));
      else
        sendJson(
          res,
          404,
          openAIError(`The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model'),
        );
      return;
    }
    sendJson(res, 404, openAIError(`Invalid URL (${req.method} ${path})`, 'invalid_request_error'));
  }

  private models(): string[] {
    return this.opts.models ?? DEFAULT_MODELS;
  }

  private async handleChat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const apiKey = bearerToken(req);
    const raw = await readBody(req, MAX_BODY);
    let body: Record<string, unknown> = {};
    let parseError = false;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      else parseError = true;
    } catch {
      parseError = true;
    }
    const model = typeof body.model === 'string' ? body.model : '';
    const messages = Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : [];
    const stream = body.stream === true;
    const record: ChatRequestRecord = {
      apiKey,
      model,
      messages,
      body,
      stream,
      receivedAt,
      outcome: 'ok',
      status: 200,
    };

    let failure: Failure | null = this.authFailure(apiKey);
    if (!failure && parseError) {
      failure = {
        status: 400,
        body: openAIError(
          "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
          'invalid_request_error',
        ),
      };
    }
    if (!failure && !model) {
      failure = { status: 400, body: openAIError('you must provide a model parameter', 'invalid_request_error') };
    }
    if (!failure && messages.length === 0) {
      failure = {
        status: 400,
        body: openAIError(
          "Missing required parameter: 'messages'.",
          'invalid_request_error',
          'missing_required_parameter',
          'messages',
        ),
      };
    }
    if (!failure) {
      const step = this.nextStep();
      if (step === 'timeout') return this.hold(res, record, this.requests);
      failure = this.faultFailure(step);
    }

    let content = '';
    if (!failure) {
      try {
        content = await this.responder({ apiKey, model, messages, body });
      } catch (err) {
        failure = {
          status: 500,
          body: openAIError(`responder failed: ${err instanceof Error ? err.message : String(err)}`, 'server_error'),
        };
      }
    }

    const delay = pickLatency(this.rng, this.faults.latencyMs);
    this.loopback!.later(() => {
      record.respondedAt = Date.now();
      if (failure) {
        record.outcome = 'error';
        record.status = failure.status;
        sendJson(res, failure.status, failure.body, failure.headers);
      } else {
        const promptChars = messages.reduce((n, m) => n + messageText(m.content).length, 0);
        const prompt_tokens = estimateTokens(promptChars);
        const completion_tokens = estimateTokens(content.length);
        const usage: Usage = { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
        record.reply = content;
        record.usage = usage;
        const includeUsage =
          typeof body.stream_options === 'object' &&
          body.stream_options !== null &&
          (body.stream_options as Record<string, unknown>).include_usage === true;
        if (stream) writeChatStream(res, model, content, includeUsage ? usage : null);
        else sendJson(res, 200, chatCompletion(model, content, usage));
      }
      this.requests.push(record);
      this.waiters.notify();
    }, delay);
  }

  private async handleTranscription(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const apiKey = bearerToken(req);
    const raw = await readBody(req, MAX_BODY);
    const parts = parseMultipart(raw, req.headers['content-type'] ?? '');
    const file = parts.get('file');
    const model = parts.get('model')?.data.toString('utf8') ?? '';
    const format = parts.get('response_format')?.data.toString('utf8') ?? 'json';
    const record: TranscriptionRecord = {
      apiKey,
      model,
      fileName: file?.filename ?? null,
      mimeType: file?.contentType ?? null,
      bytes: file?.data ?? Buffer.alloc(0),
      receivedAt,
      outcome: 'ok',
      status: 200,
    };

    let failure: Failure | null = this.authFailure(apiKey);
    if (!failure && (!file || file.filename === undefined)) {
      failure = {
        status: 400,
        body: openAIError("Missing required parameter: 'file'.", 'invalid_request_error', null, 'file'),
      };
    }
    if (!failure && !model) {
      failure = {
        status: 400,
        body: openAIError("Missing required parameter: 'model'.", 'invalid_request_error', null, 'model'),
      };
    }
    if (!failure) {
      const step = this.nextStep();
      if (step === 'timeout') return this.hold(res, record, this.transcriptions);
      failure = this.faultFailure(step);
    }

    const delay = pickLatency(this.rng, this.faults.latencyMs);
    this.loopback!.later(() => {
      if (failure) {
        record.outcome = 'error';
        record.status = failure.status;
        sendJson(res, failure.status, failure.body, failure.headers);
      } else {
        const text = this.transcriptFor(record.bytes);
        record.text = text;
        if (format === 'text' || format === 'srt' || format === 'vtt') {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        } else if (format === 'verbose_json') {
          sendJson(res, 200, { task: 'transcribe', language: 'english', duration: 1, text, segments: [] });
        } else {
          sendJson(res, 200, { text });
        }
      }
      this.transcriptions.push(record);
      this.waiters.notify();
    }, delay);
  }

  private hold<T extends { outcome: OpenAIOutcome; status: number }>(res: ServerResponse, record: T, into: T[]): void {
    record.outcome = 'timeout';
    record.status = 0;
    this.loopback!.hold(res);
    into.push(record);
    this.waiters.notify();
  }

  private authFailure(apiKey: string | null): Failure | null {
    if (!apiKey) {
      return {
        status: 401,
        body: openAIError(
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          'invalid_request_error',
        ),
      };
    }
    if (this.apiKeys && !this.apiKeys.has(apiKey)) {
      const masked = apiKey.length > 8 ? `${apiKey.slice(0, 3)}*****${apiKey.slice(-4)}` : '*****';
      return {
        status: 401,
        body: openAIError(
          `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          'invalid_request_error',
          'invalid_api_key',
        ),
      };
    }
    return null;
  }

  private nextStep(): OpenAIScriptStep {
    const scripted = this.queue.shift();
    if (scripted !== undefined) return scripted;
    const { timeoutRate = 0, errorRate = 0, rateLimitRate = 0 } = this.faults;
    if (timeoutRate + errorRate + rateLimitRate <= 0) return 'ok';
    const r = this.rng();
    if (r < timeoutRate) return 'timeout';
    if (r < timeoutRate + errorRate) return 'error';
    if (r < timeoutRate + errorRate + rateLimitRate) return '429';
    return 'ok';
  }

  private faultFailure(step: OpenAIScriptStep): Failure | null {
    if (step === 'error') {
      return {
        status: 500,
        body: openAIError(
          'The server had an error while processing your request. Sorry about that!',
          'server_error',
        ),
      };
    }
    if (step === '429') {
      return {
        status: 429,
        body: openAIError(
          'Rate limit reached for requests. Please try again in 20ms.',
          'requests',
          'rate_limit_exceeded',
        ),
        // Honoured by the openai SDK's retry logic; keeps retrying tests fast.
        headers: { 'retry-after-ms': '20', 'x-ratelimit-remaining-requests': '0' },
      };
    }
    return null;
  }
}

export function defaultResponder(req: ChatRequest): string {
  return groundedAnswer(req.messages);
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function modelObject(id: string) {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'alphadome-simulator' };
}

function completionId(): string {
  return `chatcmpl-${randomBytes(15).toString('base64url')}`;
}

function chatCompletion(model: string, content: string, usage: Usage) {
  return {
    id: completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage,
    service_tier: 'default',
    system_fingerprint: null,
  };
}

function writeChatStream(res: ServerResponse, model: string, content: string, usage: Usage | null): void {
  if (res.destroyed) return;
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices, ...extra })}\n\n`;
  const delta = (d: Record<string, unknown>, finish: string | null = null) => [
    { index: 0, delta: d, logprobs: null, finish_reason: finish },
  ];
  let out = chunk(delta({ role: 'assistant', content: '', refusal: null }));
  // A few words per chunk, like a real stream.
  for (const piece of content.match(/\S+\s*|\s+/g) ?? []) out += chunk(delta({ content: piece }));
  out += chunk(delta({}, 'stop'));
  if (usage) out += chunk([], { usage });
  out += 'data: [DONE]\n\n';
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.end(out);
}

interface MultipartPart {
  data: Buffer;
  filename?: string;
  contentType?: string;
}

/** Minimal multipart/form-data parser: enough for the openai SDK's uploads. */
export function parseMultipart(body: Buffer, contentType: string): Map<string, MultipartPart> {
  const parts = new Map<string, MultipartPart>();
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundaryText = m?.[1] ?? m?.[2];
  if (!boundaryText) return parts;
  const delimiter = Buffer.from(`--${boundaryText}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundaryText}`);
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    let start = pos + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing "--"
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const headerEnd = body.indexOf('\r\n\r\n', start);
    if (headerEnd < 0) break;
    const end = body.indexOf(nextDelimiter, headerEnd + 4);
    if (end < 0) break;
    const headers = body.subarray(start, headerEnd).toString('utf8');
    const name = /name="([^"]*)"/i.exec(headers)?.[1];
    if (name !== undefined) {
      const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
      const type = /^content-type:\s*(.+)$/im.exec(headers)?.[1]?.trim();
      parts.set(name, {
        data: body.subarray(headerEnd + 4, end),
        ...(filename !== undefined ? { filename } : {}),
        ...(type !== undefined ? { contentType: type } : {}),
      });
    }
    pos = end + 2;
  }
  return parts;
}

export async function startOpenAISimulator(opts: OpenAISimulatorOptions = {}): Promise<OpenAISimulator> {
  return new OpenAISimulator(opts).listen();
}
