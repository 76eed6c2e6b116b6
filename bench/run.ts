/**
 * `npm run bench` runs every scenario; `npm run bench -- <scenario> [...]` runs the named ones.
 * Prints a table per scenario and merges its figures into bench/results.json (not committed),
 * one key per scenario. Add a scenario by adding it to `scenarios`: an async function that
 * returns a flat object of figures (numbers), logging progress to stderr.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runE2eBench } from './e2e.ts';
import { runIngressBench } from './ingress.ts';
import { runOverheadBench } from './overhead.ts';
import { runFairnessBench } from './fairness.ts';
import { runRateCapBench } from './rate-cap.ts';
import { runCatalogBench } from './catalog.ts';

type Figures = Record<string, number | string | boolean | null>;
type Scenario = () => Promise<Figures>;

export const scenarios: Record<string, Scenario> = {
  ingress: async () => ({ ...(await runIngressBench()) }),
  e2e: async () => ({ ...(await runE2eBench()) }),
  overhead: async () => ({ ...(await runOverheadBench()) }),
  rate_cap: async () => ({ ...(await runRateCapBench()) }),
  fairness: async () => ({ ...(await runFairnessBench()) }),
  catalog: async () => ({ ...(await runCatalogBench()) }),
  dashboard: async () => ({ ...(await (await import('./dashboard.ts')).runDashboardBench()) }),
};

const resultsPath = fileURLToPath(new URL('./results.json', import.meta.url));

function table(name: string, figures: Figures): string {
  const rows = Object.entries(figures).map(([k, v]) => [k, typeof v === 'number' ? String(v) : JSON.stringify(v)] as const);
  const w0 = Math.max(name.length, ...rows.map(([k]) => k.length));
  const w1 = Math.max(5, ...rows.map(([, v]) => v.length));
  const line = `+${'-'.repeat(w0 + 2)}+${'-'.repeat(w1 + 2)}+`;
  return [line, `| ${name.padEnd(w0)} | ${'value'.padEnd(w1)} |`, line, ...rows.map(([k, v]) => `| ${k.padEnd(w0)} | ${v.padStart(w1)} |`), line].join('\n');
}

async function readResults(): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(resultsPath, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = asked.filter((a) => !(a in scenarios));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}\n`);
    process.exit(2);
  }
  const names = asked.length > 0 ? asked : Object.keys(scenarios);
  let failed = false;
  for (const name of names) {
    process.stderr.write(`\n== ${name}\n`);
    try {
      const figures = await scenarios[name]!();
      process.stdout.write(`${table(name, figures)}\n`);
      // re-read before writing: another scenario (or run) may have written meanwhile
      const results = await readResults();
      results[name] = figures;
      await writeFile(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
    } catch (err) {
      failed = true;
      process.stderr.write(`scenario ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    }
  }
  process.stderr.write(`\nresults merged into ${resultsPath}\n`);
  process.exit(failed ? 1 : 0);
}

await main();
