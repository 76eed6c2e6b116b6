import { CommanderError } from 'commander';
import { ZodError } from 'zod';
import { ConfigError, describeZodError, isAppError, pgErrorCode } from '@alphadome/tenant-core';

/** A bad command line (missing or malformed option): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ExitReport {
  code: number;
  /** one line, without the `alphadome: ` prefix; empty when nothing should be printed */
  message: string;
  /** printed only with ALPHADOME_DEBUG=1: expected errors never show a stack */
  stack?: string;
}

const firstLine = (s: string) => s.split('\n')[0]!.trim();

/** Flag names for the fields of the shared zod schemas, so messages name what the user typed. */
const flagNames: Record<string, string> = {
  slug: '--slug',
  clientName: '--name',
  phoneNumberId: '--phone-number-id',
  wabaId: '--waba-id',
  displayPhone: '--display-phone',
  email: '--email',
  role: '--role',
  password: '--password-file',
  question: '--question',
  answer: '--answer',
  language: '--language',
  name: '--name',
  triggers: '--triggers',
  body: '--body',
  kind: '--kind',
};

/** Map any thrown value to an exit code and one line for stderr. */
export function reportError(err: unknown): ExitReport {
  if (err instanceof CommanderError) {
    // help and version print themselves and succeed; other parse errors are usage errors
    if (err.exitCode === 0) return { code: 0, message: '' };
    return { code: 2, message: err.code === 'commander.help' ? '' : firstLine(err.message.replace(/^error: /, '')) };
  }
  if (err instanceof UsageError) return { code: 2, message: firstLine(err.message) };
  if (isAppError(err) || err instanceof ConfigError) return { code: 1, message: firstLine(err.message) };
  if (err instanceof ZodError) return { code: 1, message: describeZodError(err, flagNames) };
  const code = pgErrorCode(err);
  const message = err instanceof Error ? firstLine(err.message) : String(err);
  const stack = err instanceof Error ? err.stack : undefined;
  const withStack = (r: ExitReport): ExitReport => (stack ? { ...r, stack } : r);
  if (code === '42P01' || code === '42883' || code === '3F000') {
    return withStack({ code: 1, message: `${message} (has the database been migrated? run: alphadome migrate)` });
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'CONNECT_TIMEOUT') {
    return withStack({ code: 1, message: `cannot reach the database (DATABASE_URL): ${message}` });
  }
  return withStack({ code: 1, message });
}
