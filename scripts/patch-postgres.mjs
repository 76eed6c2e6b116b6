// postinstall: guard postgres.js 3.4.x against writing to a socket that closed between a
// buffered write and its setImmediate flush (porsager/postgres#1154, #1066, #1208; fix proposed
// upstream in #1168/#1209, not released). Unpatched, a Postgres connection cut by the server or a
// pooler throws an uncatchable TypeError from a timer and kills the process; patched, the query
// in flight fails with CONNECTION_CLOSED and the pool reconnects. Idempotent; a driver whose
// code has changed is left alone with a warning (then re-check the upstream issue).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const MARK = '/* alphadome: null-socket guard */';
let root;
try {
  // the package's exports hide package.json; walk up from its entry point instead
  let dir = dirname(createRequire(import.meta.url).resolve('postgres'));
  const isRoot = (d) => existsSync(join(d, 'package.json')) && JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).name === 'postgres';
  while (!isRoot(dir) && dirname(dir) !== dir) dir = dirname(dir);
  root = dir;
} catch {
  process.exit(0); // not installed (e.g. a partial install): nothing to patch
}
const original = '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)';
const guarded =
  `  function nextWrite(fn) {\n    ${MARK}\n    if (socket === null) {\n` +
  `      nextWriteTimer !== null && clearImmediate(nextWriteTimer)\n` +
  `      chunk = nextWriteTimer = null\n` +
  `      error(Errors.connection('CONNECTION_CLOSED', options))\n` +
  `      return false\n    }\n    const x = socket.write(chunk, fn)`;
// teardown cleared the pending flush without forgetting it, so a reused connection never flushed again
const teardown = '    clearImmediate(nextWriteTimer)\n';
const teardownFixed = '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n';

for (const rel of ['src/connection.js', 'cjs/src/connection.js']) {
  const file = join(root, rel);
  if (!existsSync(file)) continue;
  let text = readFileSync(file, 'utf8');
  if (text.includes(MARK)) continue;
  if (!text.includes(original) || text.split(teardown).length !== 3) {
    console.warn(`patch-postgres: ${rel} is not the code this patch expects; left unpatched`);
    continue;
  }
  text = text.replace(original, guarded).split(teardown).join(teardownFixed);
  writeFileSync(file, text);
}
