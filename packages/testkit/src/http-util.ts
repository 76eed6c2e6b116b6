// Small shared pieces for the loopback simulators: a node:http server that can be
// closed while requests are deliberately left hanging, a seedable PRNG, body reading,
// JSON replies and event-driven waiting on recorded requests.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export type Rng = () => number;

/** mulberry32: tiny, fast, good enough for fault injection; same seed → same sequence. */
export function createRng(seed?: number): Rng {
  let a = (seed ?? randomBytes(4).readUInt32LE(0)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Latency = number | { min: number; max: number };

export function pickLatency(rng: Rng, latency: Latency | undefined): number {
  if (latency === undefined) return 0;
  if (typeof latency === 'number') return Math.max(0, latency);
  const { min, max } = latency;
  return Math.max(0, min + rng() * Math.max(0, max - min));
}

export class BodyTooLargeError extends Error {}

export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        reject(new BodyTooLargeError(`body over ${limitBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): void {
  if (res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Bearer token from the Authorization header, or null. */
export function bearerToken(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1]!.trim() : null;
}

export function splitUrl(rawUrl: string | undefined): { path: string; query: URLSearchParams } {
  const url = rawUrl ?? '/';
  const q = url.indexOf('?');
  return q < 0
    ? { path: url, query: new URLSearchParams() }
    : { path: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}

export interface LoopbackServer {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  /** setTimeout that close() cancels. */
  later(fn: () => void, ms: number): void;
  /** Keep a response open forever (a "timeout" fault); close() ends it. */
  hold(res: ServerResponse): void;
  readonly heldCount: number;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export async function startLoopbackServer(
  handler: Handler,
  opts: { host?: string; port?: number; name: string },
): Promise<LoopbackServer> {
  const host = opts.host ?? '127.0.0.1';
  const timers = new Set<NodeJS.Timeout>();
  const held = new Set<ServerResponse>();
  let closed = false;

  const server = createServer((req, res) => {
    let result: void | Promise<void>;
    try {
      result = handler(req, res);
    } catch (err) {
      internalError(res, err, opts.name);
      return;
    }
    if (result) result.catch((err: unknown) => internalError(res, err, opts.name));
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    server,
    url: `http://${host}:${port}`,
    port,
    later(fn, ms) {
      if (closed) return;
      if (ms <= 0) {
        fn();
        return;
      }
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, ms);
      timers.add(t);
    },
    hold(res) {
      held.add(res);
      res.on('close', () => held.delete(res));
    },
    get heldCount() {
      return held.size;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      // Ends keep-alive sockets and the requests a timeout fault is holding.
      server.closeAllConnections();
      for (const res of held) res.destroy();
      held.clear();
      await done;
    },
  };
}

function internalError(res: ServerResponse, err: unknown, name: string): void {
  if (res.destroyed) return; // the client went away mid-request (e.g. it timed out): nothing to report
  if (err instanceof BodyTooLargeError) {
    sendJson(res, 413, { error: { message: err.message, type: 'invalid_request_error', code: 413 } });
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  console.error(`[${name}] handler error: ${message}`);
  sendJson(res, 500, { error: { message: `${name} internal error: ${message}`, type: 'server_error', code: 1 } });
}

/**
 * waitFor() support: a waiter's check runs when records change (coalesced to one pass per
 * event-loop turn, so thousands of requests/s stay cheap) and once at registration.
 */
interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class Waiters {
  private readonly pending = new Set<Waiter>();
  private scheduled = false;

  constructor(private readonly name: string) {}

  wait(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(waiter);
        reject(new Error(`${this.name}.waitFor timed out after ${timeoutMs} ms; ${describe()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.pending.add(waiter);
    });
  }

  notify(): void {
    if (this.scheduled || this.pending.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const waiter of this.pending) {
        let ok: boolean;
        try {
          ok = waiter.check();
        } catch (err) {
          this.pending.delete(waiter);
          waiter.reject(err instanceof Error ? err : new Error(String(err)));
          continue;
        }
        if (ok) {
          this.pending.delete(waiter);
          waiter.resolve();
        }
      }
    });
  }

  rejectAll(reason: string): void {
    for (const waiter of this.pending) waiter.reject(new Error(`${this.name}: ${reason}`));
    this.pending.clear();
  }
}

export function describePredicate(fn: Function): string {
  const src = fn.toString().replace(/\s+/g, ' ');
  return src.length > 160 ? `${src.slice(0, 157)}...` : src;
}
