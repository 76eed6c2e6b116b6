import { pino, type Logger, type LoggerOptions } from 'pino';

/** Paths pino blanks out wherever they appear in a log line: secrets never reach logs. */
export const redactPaths = [
  'token',
  'accessToken',
  'appSecret',
  'apiKey',
  'password',
  'secret',
  'authorization',
  'cookie',
  '*.token',
  '*.accessToken',
  '*.appSecret',
  '*.apiKey',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'res.headers["set-cookie"]',
];

export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info', opts: LoggerOptions = {}): Logger {
  return pino({
    name,
    level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { app: name },
    ...opts,
  });
}

export type { Logger };
