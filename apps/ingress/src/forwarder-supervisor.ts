import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@alphadome/tenant-core';
import type { IngressMetrics } from './metrics.ts';
import type { InboundPace } from './pace.ts';

/** The environment variable that carries the forwarder's (non-secret) configuration. */
export const FORWARDER_ENV = 'ALPHADOME_INGRESS_FORWARDER';

export interface ForwarderChildConfig {
  prefix: string;
  key: string;
  consumer: string;
  logLevel: string;
  /** ingress's pacing of inbound jobs, as its configuration parsed it */
  pace: InboundPace;
}

export type ToForwarder = { type: 'stop'; drainMs: number };
export type FromForwarder =
  | { type: 'started' }
  | { type: 'stopped' }
  | { type: 'stats'; messages: number; statuses: number; lags: number[]; errors: number; dead: number };

export interface ForwarderProcessOptions {
  redisUrl: string;
  prefix: string;
  key: string;
  logLevel: string;
  pace: InboundPace;
  logger: Logger;
  metrics: IngressMetrics;
  /** niceness of the forwarder (0-19; higher = yields more to the webhook path). Default 10. */
  niceness?: number;
}

/**
 * Runs the hand-off forwarder as a child process of ingress, at a lower CPU priority, and
 * keeps it running: if it dies it is started again under the same consumer name, so it first
 * re-reads the entries it held. Its counts are relayed into ingress's /metrics. A child
 * process rather than a thread: its own heap and event loop, its own CPU priority, and a crash
 * there cannot take the webhook path down.
 */
export class ForwarderProcess {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly config: ForwarderChildConfig;

  constructor(private readonly opts: ForwarderProcessOptions) {
    this.config = {
      prefix: opts.prefix,
      key: opts.key,
      logLevel: opts.logLevel,
      pace: opts.pace,
      consumer: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.child !== null || this.stopping) return;
    // from source: forwarder-process.ts (under tsx); compiled (build.mjs): forwarder-process.mjs beside main.mjs
    const entry = new URL(import.meta.url.endsWith('.ts') ? './forwarder-process.ts' : './forwarder-process.mjs', import.meta.url);
    const { metrics, logger } = this.opts;
    const child = fork(fileURLToPath(entry), [], {
      // A small young generation keeps its RSS down (it allocates in large batches); when
      // running from TypeScript source the child needs tsx's loader too.
      execArgv: ['--max-semi-space-size=4', ...(entry.pathname.endsWith('.ts') ? ['--import', 'tsx'] : [])],
      env: { ...process.env, REDIS_URL: this.opts.redisUrl, [FORWARDER_ENV]: JSON.stringify(this.config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    child.once('spawn', () => {
      try {
        setPriority(child.pid!, this.opts.niceness ?? 10);
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, 'could not lower the forwarder priority');
      }
    });
    child.on('message', (msg: FromForwarder) => {
      if (msg.type === 'started') this.restarts = 0;
      if (msg.type !== 'stats') return;
      if (msg.messages > 0) metrics.forwarded.message.inc(msg.messages);
      if (msg.statuses > 0) metrics.forwarded.status.inc(msg.statuses);
      for (const lag of msg.lags) metrics.handoffLag.observe(lag);
      if (msg.errors > 0) metrics.handoffErrors.inc(msg.errors);
      if (msg.dead > 0) metrics.handoffDead.inc(msg.dead);
    });
    child.on('error', (err) => logger.error({ err }, 'hand-off forwarder process error'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      // what it held stays in the stream; a new one under the same consumer name re-reads it
      const delay = Math.min(250 * 2 ** this.restarts++, 10_000);
      logger.error({ code, signal, restartInMs: delay }, 'hand-off forwarder exited; restarting it');
      this.restartTimer = setTimeout(() => this.start(), delay);
    });
  }

  /** Asks the forwarder to forward what is left (up to drainMs), then to exit; waits for it. */
  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const drainMs = opts.drainMs ?? 0;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) child.send({ type: 'stop', drainMs } satisfies ToForwarder);
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), drainMs + 5_000);
    await exited;
    clearTimeout(timer);
  }
}
