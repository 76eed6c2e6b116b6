// A loopback SMTP server that accepts every message and keeps it, for tests of email alerts
// (nodemailer → smtp://127.0.0.1:<port>). No TLS, no auth: loopback only.
import { SMTPServer } from 'smtp-server';

export interface SinkMessage {
  from: string;
  to: string[];
  subject: string;
  /** the body as text (quoted-printable soft breaks and escapes decoded) */
  text: string;
  raw: string;
  receivedAt: number;
}

export interface SmtpSink {
  /** smtp://127.0.0.1:<port> — use as SMTP_URL */
  url: string;
  port: number;
  readonly messages: SinkMessage[];
  /** messages sent to this address */
  to(address: string): SinkMessage[];
  /** resolves once `count` messages (to `address`, if given) have arrived */
  waitFor(count: number, opts?: { to?: string; timeoutMs?: number }): Promise<SinkMessage[]>;
  clear(): void;
  close(): Promise<void>;
}

function decodeQuotedPrintable(s: string): string {
  const bytes = s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function parse(raw: string): { subject: string; text: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split >= 0 ? raw.slice(0, split) : raw;
  const body = split >= 0 ? raw.slice(split).replace(/^\r?\n\r?\n/, '') : '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const subjectLine = /^subject:\s*(.*)$/im.exec(unfolded)?.[1] ?? '';
  const subject = subjectLine.replace(/=\?utf-8\?([QB])\?(.*?)\?=/gi, (_m, enc: string, data: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  ).replace(/\?=\s+=\?/g, '');
  const qp = /content-transfer-encoding:\s*quoted-printable/i.test(unfolded);
  const b64 = /content-transfer-encoding:\s*base64/i.test(unfolded);
  const text = qp ? decodeQuotedPrintable(body) : b64 ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') : body;
  return { subject, text };
}

export async function startSmtpSink(opts: { port?: number } = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const to = session.envelope.rcptTo.map((r) => r.address);
        messages.push({ from, to, ...parse(raw), raw, receivedAt: Date.now() });
        for (const w of waiters) w();
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const to = (address: string) => messages.filter((m) => m.to.some((t) => t.toLowerCase() === address.toLowerCase()));
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    to,
    waitFor(count, o = {}) {
      const pick = () => (o.to ? to(o.to) : messages);
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pick().length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(pick());
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`SMTP sink: ${pick().length} of ${count} message(s)${o.to ? ` to ${o.to}` : ''} after ${o.timeoutMs ?? 10_000} ms`));
        }, o.timeoutMs ?? 10_000);
        waiters.add(check);
        check();
      });
    },
    clear() {
      messages.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
