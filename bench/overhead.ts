/**
 * Platform overhead: webhook-to-send latency of messages that take the LLM path (no canned
 * reply, no clear FAQ match), minus the simulated LLM time, which is fixed (BENCH_LLM_MS, 200 ms
 * by default; the OpenAI simulator answers after exactly that long). Same stack as the e2e
 * scenario (ingress, two workers, own Redis, own database, 20 tenants), open loop at
 * BENCH_OVERHEAD_RATE (50) messages/s for BENCH_OVERHEAD_S (20) s, after a warm-up.
 */
import { envNumber, LLM_TEXT, percentile } from './stack.ts';
import { runPhase, startStack } from './e2e.ts';

export interface OverheadBenchResult {
  p50_ms: number;
  p99_ms: number;
  llm_ms: number;
  rate: number;
}

export async function runOverheadBench(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<OverheadBenchResult> {
  const llmMs = envNumber('BENCH_LLM_MS', 200);
  const rate = envNumber('BENCH_OVERHEAD_RATE', 50);
  const seconds = envNumber('BENCH_OVERHEAD_S', 20);
  const stack = await startStack({ log });
  try {
    stack.openai.setFaults({ latencyMs: llmMs });
    log('warm-up: 200 messages at 25/s');
    await runPhase(stack, 200, 25, LLM_TEXT);
    const before = stack.openai.requests.length;
    log(`overhead: ${rate} messages/s for ${seconds} s, LLM fixed at ${llmMs} ms`);
    const phase = await runPhase(stack, Math.round(rate * seconds), rate, LLM_TEXT);
    const llmCalls = (stack.openai.requests.length) - before;
    const overhead = phase.latenciesMs.map((l) => l - llmMs);
    const p50 = percentile(overhead, 50);
    const p99 = percentile(overhead, 99);
    log(`  ${llmCalls} LLM calls for ${phase.latenciesMs.length} messages; end-to-end p50 ${percentile(phase.latenciesMs, 50)} ms, p99 ${percentile(phase.latenciesMs, 99)} ms; minus ${llmMs} ms: p50 ${p50} ms, p99 ${p99} ms`);
    if (llmCalls < phase.latenciesMs.length) log(`  note: only ${llmCalls} of ${phase.latenciesMs.length} messages went through the LLM`);
    return { p50_ms: p50, p99_ms: p99, llm_ms: llmMs, rate };
  } finally {
    await stack.close();
  }
}
