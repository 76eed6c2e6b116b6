/**
 * The production deployment files, checked without a Docker engine: `docker-compose config`
 * (Debian's docker-compose package; .ci/run installs it) validates docker-compose.yml and prints
 * it resolved, which is read back as data (python3-yaml comes with docker-compose) and checked
 * against what the deployment promises. The Dockerfile is read as text.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const composeFile = `${root}docker-compose.yml`;
// only PATH and HOME: the file must validate with nothing set (defaults for every variable)
const cleanEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | null>;
  ports?: unknown[];
  container_name?: string;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: unknown;
  volumes?: unknown[];
}
let services: Record<string, Service>;

function compose(args: string[]): string {
  const r = spawnSync('docker-compose', ['-f', composeFile, ...args], { cwd: root, env: cleanEnv, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('docker-compose is not on PATH: install Debian\'s docker-compose package (apt-get install docker-compose); .ci/run does');
  }
  if (r.status !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  const resolved = compose(['config']);
  const json = execFileSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], {
    input: resolved,
    encoding: 'utf8',
  });
  services = (JSON.parse(json) as { services: Record<string, Service> }).services;
});

const commandOf = (s: Service): string => (Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? ''));

describe('docker-compose.yml', () => {
  it('validates with `docker-compose config -q` and no environment set', () => {
    expect(compose(['config', '-q'])).toBe('');
  });

  it('has postgres, redis, migrate, ingress, worker and dashboard', () => {
    expect(Object.keys(services).sort()).toEqual(expect.arrayContaining(['dashboard', 'ingress', 'migrate', 'postgres', 'redis', 'worker']));
  });

  it('runs Redis with appendonly yes and maxmemory-policy noeviction, on a volume', () => {
    const cmd = commandOf(services.redis!);
    expect(cmd).toMatch(/--appendonly yes\b/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction\b/);
    expect(services.redis!.volumes?.length ?? 0).toBeGreaterThan(0);
  });

  it('runs each app from the repo image by its entry point, after migrations', () => {
    // the ingress runs the bundle the image builds (apps/ingress/build.mjs), the others their source
    const entries = { ingress: 'apps/ingress/dist/main.mjs', worker: 'apps/worker/src/main.ts', dashboard: 'apps/dashboard/src/main.ts' };
    for (const app of ['ingress', 'worker', 'dashboard'] as const) {
      const s = services[app]!;
      expect(s.build ?? s.image, app).toBeTruthy();
      expect(commandOf(s), app).toContain(entries[app]);
      const deps = s.depends_on as Record<string, { condition?: string }>;
      expect(deps.migrate?.condition, app).toBe('service_completed_successfully');
      for (const key of ['DATABASE_URL', 'REDIS_URL', 'ENCRYPTION_KEYS']) expect(s.environment, `${app} ${key}`).toHaveProperty(key);
    }
    expect(commandOf(services.migrate!)).toMatch(/alphadome(\.js)? migrate/);
  });

  it('lets the worker scale (`--scale worker=N`): no fixed host port, no container_name', () => {
    const w = services.worker!;
    expect(w.container_name).toBeUndefined();
    expect(w.ports ?? []).toEqual([]);
  });

  it('writes no secret into the file: secret variables come from the shell or .env', () => {
    const text = readFileSync(composeFile, 'utf8');
    for (const key of ['META_APP_SECRET', 'OPENAI_API_KEY', 'ENCRYPTION_KEYS']) {
      expect(text, key).toMatch(new RegExp(`${key}: \\$\\{${key}[:}-]`));
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
  const lines = dockerfile.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages = lines.reduce<string[][]>((acc, l) => {
    if (/^FROM\s/i.test(l)) acc.push([l]);
    else acc.at(-1)?.push(l);
    return acc;
  }, []);

  it('is multi-stage: dependencies installed in one stage, only production ones', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci[^\n]*--omit=dev/);
    expect(stages.at(-1)!.some((l) => /^COPY --from=/i.test(l))).toBe(true);
  });

  it('builds the ingress bundle in the final image, before dropping root', () => {
    const last = stages.at(-1)!;
    const build = last.findIndex((l) => /^RUN node apps\/ingress\/build\.mjs\b/.test(l));
    expect(build).toBeGreaterThan(-1);
    expect(build).toBeLessThan(last.findIndex((l) => /^USER\s/i.test(l)));
  });

  it('runs the final image as a non-root user', () => {
    const users = stages.at(-1)!.filter((l) => /^USER\s/i.test(l));
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.split(/\s+/)[1]!.split(':')[0]!;
    expect(['root', '0']).not.toContain(user);
  });

  it('starts node directly (signals reach the app, which drains on SIGTERM)', () => {
    const cmd = stages.at(-1)!.find((l) => /^CMD\s/i.test(l)) ?? '';
    expect(cmd).toMatch(/^CMD \["node"/);
    for (const app of ['ingress', 'worker', 'dashboard']) expect(commandOf(services[app]!)).toMatch(/^node /);
  });

  it('keeps the build context small and secret-free (.dockerignore)', () => {
    const ignore = readFileSync(`${root}.dockerignore`, 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['.git', '**/node_modules', '.env', '.data']) expect(ignore).toContain(entry);
  });
});
