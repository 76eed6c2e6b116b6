import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/run.ts';

/** Runs the real CLI (bin/alphadome.js) as a child process, the way an operator does. */
export const binPath = fileURLToPath(new URL('../bin/alphadome.js', import.meta.url));

export interface CliRun {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
}

export interface Harness {
  /** every run so far, to assert that no secret was ever printed */
  runs: CliRun[];
  cli(args: string[], opts?: { input?: string; env?: Record<string, string> }): Promise<CliRun>;
  /**
   * The same command line through the CLI's `run()` in this process: the same code without
   * the ~0.5 s start of a child, for the long tail of input checks. `cli` is the real thing.
   */
  inProcess(args: string[], opts?: { input?: string; env?: Record<string, string> }): Promise<CliRun>;
  /** parse stdout of a `--json` run that must succeed */
  json<T = Record<string, unknown>>(args: string[], opts?: { input?: string; env?: Record<string, string> }): Promise<T>;
  file(name: string, content: string): Promise<string>;
  dir: string;
  cleanup(): Promise<void>;
}

export async function createHarness(baseEnv: Record<string, string>): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'alphadome-cli-'));
  const runs: CliRun[] = [];
  const cli: Harness['cli'] = (args, opts = {}) =>
    new Promise((resolve, reject) => {
      const env: Record<string, string> = {};
      // a clean environment: only what a shell would give, plus the test's settings
      for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k]) env[k] = process.env[k]!;
      const child = spawn(process.execPath, [binPath, ...args], {
        env: { ...env, ...baseEnv, ...opts.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        const run = { args, code: code ?? -1, stdout, stderr };
        runs.push(run);
        resolve(run);
      });
      child.stdin.end(opts.input ?? '');
    });
  const inProcess: Harness['inProcess'] = async (args, opts = {}) => {
    let stdout = '';
    let stderr = '';
    const code = await run(args, {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      readStdin: async () => Buffer.from(opts.input ?? ''),
      env: { PATH: process.env.PATH, ...baseEnv, ...opts.env },
    });
    const r = { args, code, stdout, stderr };
    runs.push(r);
    return r;
  };
  return {
    runs,
    dir,
    cli,
    inProcess,
    async json(args, opts) {
      const r = await cli([...args, '--json'], opts);
      if (r.code !== 0) throw new Error(`alphadome ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    },
    async file(name, content) {
      const p = join(dir, name);
      await writeFile(p, content);
      return p;
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An expected failure: the given exit code and exactly one `alphadome: …` line on stderr. */
export function expectFailure(run: CliRun, code: number, message: string | RegExp): void {
  const lines = run.stderr.split('\n').filter(Boolean);
  const ok =
    run.code === code &&
    lines.length === 1 &&
    (typeof message === 'string' ? lines[0] === `alphadome: ${message}` : message.test(lines[0] ?? ''));
  if (!ok) {
    throw new Error(
      `alphadome ${run.args.join(' ')}: expected exit ${code} and one line matching ${String(message)}, ` +
        `got exit ${run.code}, stderr:\n${run.stderr}stdout:\n${run.stdout}`,
    );
  }
}
