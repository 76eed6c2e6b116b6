import type { CliIo } from './context.ts';
import type { CliContext } from './context.ts';
import { reportError } from './errors.ts';
import { buildProgram } from './program.ts';

/** Run one command line; returns the exit code. Never throws. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let ctx: CliContext | undefined;
  const program = buildProgram(io, (c) => (ctx = c));
  let code = 0;
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    const report = reportError(err);
    code = report.code;
    if (report.message) io.stderr(`alphadome: ${report.message}\n`);
    if (report.stack && io.env.ALPHADOME_DEBUG) io.stderr(`${report.stack}\n`);
  } finally {
    try {
      await ctx?.close();
    } catch (err) {
      io.stderr(`alphadome: warning: ${(err as Error).message.split('\n')[0]}\n`);
    }
  }
  return code;
}

export function readAllStdin(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}
