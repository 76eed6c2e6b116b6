import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { AppError } from '@alphadome/tenant-core';
import type { CliContext } from './context.ts';
import { UsageError } from './errors.ts';

const MAX_FILE_BYTES = 16 * 1024 * 1024;
const MAX_SECRET_BYTES = 64 * 1024;

/** Read a file named on the command line, `-` meaning standard input. */
export async function readInputFile(ctx: CliContext, path: string, flag: string, maxBytes = MAX_FILE_BYTES): Promise<string> {
  let data: Buffer;
  if (path === '-') {
    data = await ctx.takeStdin(flag);
  } else {
    try {
      data = await readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code ?? 'unreadable';
      throw new AppError('bad_request', `${flag}: cannot read ${path}: ${why}`);
    }
  }
  if (data.length > maxBytes) throw new AppError('bad_request', `${flag}: ${path === '-' ? 'standard input' : path} is larger than ${maxBytes} bytes`);
  return data.toString('utf8');
}

/** Drop one trailing line break, as `echo` and editors leave one. */
export const trimTrailingNewline = (s: string): string => s.replace(/\r?\n$/, '');

/**
 * A secret from a file or stdin, never argv. A trailing newline is dropped; a token or key must
 * then be one word (whitespace inside means the wrong file). The value never appears in a message.
 */
export async function readSecret(ctx: CliContext, path: string, flag: string, opts: { allowSpaces?: boolean } = {}): Promise<string> {
  const where = path === '-' ? 'standard input' : path;
  const value = trimTrailingNewline(await readInputFile(ctx, path, flag, MAX_SECRET_BYTES));
  if (value.length === 0) throw new AppError('bad_request', `${flag}: ${where} is empty`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new AppError('bad_request', `${flag}: ${where} must hold one line (no line breaks or control characters)`);
  if (!opts.allowSpaces && /\s/.test(value)) throw new AppError('bad_request', `${flag}: ${where} must hold the value alone, without spaces`);
  return value;
}

/** Validate one option value; a failure is a usage error naming the flag. */
export function parseOption<S extends z.ZodType>(schema: S, value: unknown, flag: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(`${flag}: ${r.error.issues[0]?.message ?? 'invalid value'}`);
  return r.data;
}

export const parseOnOff = (flag: string, value: string): boolean => {
  if (value === 'on' || value === 'true' || value === 'yes') return true;
  if (value === 'off' || value === 'false' || value === 'no') return false;
  throw new UsageError(`${flag}: must be on or off`);
};
