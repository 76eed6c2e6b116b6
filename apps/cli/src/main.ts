import { readAllStdin, run } from './run.ts';

const code = await run(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  readStdin: async () => {
    if (process.stdin.isTTY) process.stderr.write('reading from standard input; end with Ctrl-D\n');
    return readAllStdin();
  },
  env: process.env,
});
// let stdout drain, then leave without waiting for stray handles
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
