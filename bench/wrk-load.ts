/**
 * wrk as the ingress benchmark's saturating load generator (BENCH_LOADGEN=wrk): a C load
 * generator that costs the 2-core machine far less CPU than autocannon, which signs every
 * request with HMAC in JavaScript next to the server it measures.
 *
 * The requests are the ones load-generator.ts sends: the same body with a unique fixed-width
 * wamid (runId + zero-padded counter) per request, `Content-Type: application/json` and
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the exact body bytes>`. wrk's LuaJIT cannot
 * compute an HMAC, so `prepareWrkLoad` computes them in Node before the run (do it before the
 * server's measured run starts) into a data file in os.tmpdir():
 *
 *   line 1:  "alphadome-wrk-1 <count> <id bytes> <signature bytes> <head bytes> <tail bytes>"
 *   then:    the body before the wamid slot, the body after it, and <count> fixed-width records
 *            "<wamid id><hex signature>" (body = head + id + tail, exactly the bytes signed)
 *
 * The Lua script gives each wrk thread a disjoint slice of the records (setup: thread:set('id')),
 * reads its slice in chunks (memory stays small whatever the duration) and returns one
 * `wrk.format('POST', path, headers, body)` per request. It never repeats a request: a thread
 * that runs out stops (sends nothing more) and the run fails with an error here. The secret
 * is used only here, in Node: neither the data file nor wrk's argv holds it.
 *
 * Results come from the script's `done()`, one JSON line on stdout, in load-generator.ts's
 * LoadResult shape. wrk counts a response with a status above 399 as a status error, so
 * ok2xx = completed responses - status errors (the servers measured never answer 1xx/3xx).
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { LoadResult, LoadSpec } from './load-generator.ts';

/** Requests prepared per second of run: above what the bench's servers answer on 2 cores. */
const MAX_RPS = 60_000;
/** wrk threads: one is plenty (it drives > 50k req/s) and leaves the other core to the server. */
const THREADS = 1;
const SIG_BYTES = 64;
const MAGIC = 'alphadome-wrk-1';

export const WRK_MISSING = 'BENCH_LOADGEN=wrk needs the wrk binary: apt-get install wrk';

/** The wrk binary on PATH; throws WRK_MISSING without it. */
export async function findWrk(): Promise<string> {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'wrk');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(WRK_MISSING);
}

export interface PreparedWrkLoad {
  /** unique signed requests prepared (all threads together) */
  readonly requests: number;
  /** runs wrk against url (the path of the url is the request path) */
  run(url: string): Promise<LoadResult>;
  /** removes the data file and script */
  dispose(): Promise<void>;
}

/** Precomputes a run's requests (bodies and signatures) and its Lua script in a temp dir. */
export async function prepareWrkLoad(spec: Omit<LoadSpec, 'url'>): Promise<PreparedWrkLoad> {
  if (spec.overallRate !== undefined) throw new Error('wrk has no fixed request rate: use autocannon for fixed-rate runs');
  const wrk = await findWrk();
  const at = spec.template.indexOf(spec.placeholder);
  if (at < 0) throw new Error('placeholder not in template');
  const head = spec.template.slice(0, at);
  const tail = spec.template.slice(at + spec.placeholder.length);
  const width = spec.placeholder.length - spec.runId.length;
  const idBytes = spec.placeholder.length;
  if (width <= 0 || Buffer.byteLength(spec.runId) !== spec.runId.length) throw new Error(`unusable runId ${spec.runId}`);
  const durationS = Math.max(1, Math.round(spec.durationS)); // wrk takes whole seconds
  const count = durationS * MAX_RPS;
  if (String(count - 1).length > width) throw new Error(`runId ${spec.runId} leaves too few digits for ${count} requests`);
  const recBytes = idBytes + SIG_BYTES;
  const headBuf = Buffer.from(head);
  const tailBuf = Buffer.from(tail);

  const dir = await mkdtemp(join(tmpdir(), 'alphadome-wrk-'));
  const dataPath = join(dir, 'requests.dat');
  const scriptPath = join(dir, 'requests.lua');
  try {
    const file = await open(dataPath, 'w', 0o600);
    try {
      await file.write(`${MAGIC} ${count} ${idBytes} ${SIG_BYTES} ${headBuf.length} ${tailBuf.length}\n`);
      await file.write(headBuf);
      await file.write(tailBuf);
      const perChunk = 8192;
      const chunk = Buffer.alloc(perChunk * recBytes);
      for (let start = 0; start < count; start += perChunk) {
        const n = Math.min(perChunk, count - start);
        for (let i = 0; i < n; i++) {
          // exactly as load-generator.ts builds and signs a request
          const id = spec.runId + String(start + i).padStart(width, '0');
          const body = head + id + tail;
          const sig = createHmac('sha256', spec.secret).update(body).digest('hex');
          chunk.write(id, i * recBytes, 'latin1');
          chunk.write(sig, i * recBytes + idBytes, 'latin1');
        }
        await file.write(chunk, 0, n * recBytes);
      }
    } finally {
      await file.close();
    }
    await writeFile(scriptPath, LUA_SCRIPT, { mode: 0o600 });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    requests: count,
    run: (url) => runWrk(wrk, { url, scriptPath, dataPath, connections: spec.connections, durationS, count }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

interface WrkSummary {
  alphadome_wrk: number;
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  issued: number;
  exhausted: number;
}

function runWrk(
  wrk: string,
  o: { url: string; scriptPath: string; dataPath: string; connections: number; durationS: number; count: number },
): Promise<LoadResult> {
  const args = [
    '-t', String(THREADS),
    '-c', String(Math.max(THREADS, o.connections)),
    '-d', `${o.durationS}s`,
    '--timeout', '10s',
    '--latency',
    '-s', o.scriptPath,
    o.url,
    '--', o.dataPath, String(THREADS),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code ?? signal}: ${err.trim()} ${out.trim()}`));
      const line = out.split('\n').find((l) => l.startsWith('{"alphadome_wrk":'));
      if (!line) return reject(new Error(`wrk printed no result line: ${out.trim()} ${err.trim()}`));
      let s: WrkSummary;
      try {
        s = JSON.parse(line) as WrkSummary;
      } catch {
        return reject(new Error(`wrk result line is not JSON: ${line}`));
      }
      if (s.exhausted > 0 || s.issued > o.count || s.requests > o.count) {
        return reject(
          new Error(
            `wrk ran out of prepared requests (${o.count} for ${o.durationS} s, ${s.issued} issued, ${s.requests} completed): ` +
              `raise MAX_RPS in bench/wrk-load.ts`,
          ),
        );
      }
      const durationS = s.duration_us / 1e6;
      const errors = s.connect + s.read + s.write + s.timeout;
      const ok2xx = s.requests - s.status;
      resolve({
        durationS,
        total: s.requests,
        ok2xx,
        non2xx: s.status,
        errors,
        timeouts: s.timeout,
        rps: ok2xx / durationS,
        p50_ms: s.p50_ms,
        p90_ms: s.p90_ms,
        p99_ms: s.p99_ms,
        max_ms: s.max_ms,
      });
    });
  });
}

/**
 * The wrk script. Runs in wrk's LuaJIT: setup() and done() in the main state, init() and
 * request() in each thread's own state. args (after `--`): [1] the data file, [2] the number
 * of threads ([0] is the URL).
 */
const LUA_SCRIPT = String.raw`-- generated by bench/wrk-load.ts
local CHUNK = 4096
local file, head, tail, idLen, recLen
local remaining, chunk, chunkCount, pos = 0, "", 0, 0
local headers = {}

-- globals, read by done() through thread:get()
issued = 0
exhausted = 0

local threadList = {}

local function fail(msg)
  io.stderr:write("wrk-load.lua: " .. msg .. "\n")
  os.exit(2)
end

function setup(thread)
  thread:set("id", #threadList)
  threadList[#threadList + 1] = thread
end

function init(args)
  local path, threads = args[1], tonumber(args[2])
  if not path or not threads or threads < 1 then fail("expected arguments: -- <data file> <threads>") end
  file = io.open(path, "rb")
  if not file then fail("cannot open " .. path) end
  local magic, count, il, sl, hl, tl = string.match(file:read("*l") or "",
    "^(alphadome%-wrk%-1) (%d+) (%d+) (%d+) (%d+) (%d+)$")
  if not magic then fail("bad header in " .. path) end
  count, idLen, hl, tl = tonumber(count), tonumber(il), tonumber(hl), tonumber(tl)
  recLen = idLen + tonumber(sl)
  head = hl > 0 and file:read(hl) or ""
  tail = tl > 0 and file:read(tl) or ""
  if #head ~= hl or #tail ~= tl then fail("short template in " .. path) end
  -- this thread's slice: records [id * per, (id + 1) * per)
  local per = math.floor(count / threads)
  file:seek("set", file:seek() + id * per * recLen)
  remaining = per
  headers["Content-Type"] = "application/json"
end

local function refill()
  local n = math.min(CHUNK, remaining)
  if n <= 0 then return false end
  chunk = file:read(n * recLen)
  if not chunk or #chunk ~= n * recLen then fail("short read in data file") end
  chunkCount, pos, remaining = n, 0, remaining - n
  return true
end

function request()
  if pos >= chunkCount and not refill() then
    -- out of unique requests: send nothing more (an empty write) and stop this thread;
    -- done() reports it and the bench fails the run
    exhausted = exhausted + 1
    wrk.thread:stop()
    return ""
  end
  local off = pos * recLen
  pos = pos + 1
  issued = issued + 1
  headers["X-Hub-Signature-256"] = "sha256=" .. string.sub(chunk, off + idLen + 1, off + recLen)
  return wrk.format("POST", nil, headers, head .. string.sub(chunk, off + 1, off + idLen) .. tail)
end

function done(summary, latency, requests)
  local iss, exh = 0, 0
  for _, t in ipairs(threadList) do
    iss = iss + (t:get("issued") or 0)
    exh = exh + (t:get("exhausted") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '{"alphadome_wrk":1,"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"issued":%.0f,"exhausted":%.0f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    iss, exh))
  io.flush()
end
`;
