/**
 * Compiles ingress for production: `src/main.ts` and the forwarder's entry
 * (`src/forwarder-process.ts`) into `dist/*.mjs`, with the workspace packages (@alphadome/*)
 * bundled in and every other package left to node_modules.
 *
 * Why: under `node --import tsx` the process carries tsx's module loader (a second V8 isolate
 * on a loader thread, ~37 MB RSS measured) and esbuild's keep-names wrappers, which rename
 * every closure as it is created (~1.5 µs per webhook in parseWebhook alone). The compiled
 * process starts from the same source with neither. `npm run build -w @alphadome/ingress`
 * (esbuild is already installed: it is tsx's own dependency).
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Bundles a build of ingress; resolves to the output directory. */
export async function buildIngress(outdir = `${here}dist`) {
  await build({
    absWorkingDir: here,
    entryPoints: ['src/main.ts', 'src/forwarder-process.ts'],
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [
      {
        // bundle our own workspace packages (they export TypeScript source), not node_modules
        name: 'external-node-modules',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@alphadome/') ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await buildIngress(process.argv[2]);
  process.stdout.write(`ingress built into ${out}\n`);
}
