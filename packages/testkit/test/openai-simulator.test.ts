import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HANDOVER_TOKEN, startOpenAISimulator } from '../src/index.ts';
import type { OpenAISimulator } from '../src/index.ts';

let sim: OpenAISimulator;
let client: OpenAI;

const SYSTEM = [
  'You are the assistant of Kassangas Music Shop. Answer only from the FAQ below.',
  `If the FAQ does not answer the question, reply exactly ${HANDOVER_TOKEN}.`,
  'FAQ:',
  'Q: What are your opening hours?',
  'A: We are open Monday to Saturday, 9am to 6pm.',
  'Q: Do you deliver guitars outside Nairobi?',
  'A: Yes, we deliver countrywide via G4S within 3 days.',
].join('\n');

beforeAll(async () => {
  sim = await startOpenAISimulator({ seed: 1 });
  client = new OpenAI({ apiKey: 'sk-test-a', baseURL: sim.baseURL, maxRetries: 0, timeout: 2000 });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => sim.reset());

const ask = (question: string, c: OpenAI = client) =>
  c.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: question },
    ],
  });

describe('openai simulator: chat completions', () => {
  it('answers from a Q:/A: line and reports usage', async () => {
    expect(sim.baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const completion = await ask('Habari, what time do you open on Saturday? Hours please');
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('gpt-4o-mini');
    expect(completion.choices).toHaveLength(1);
    const choice = completion.choices[0]!;
    expect(choice).toMatchObject({ index: 0, finish_reason: 'stop', logprobs: null });
    expect(choice.message).toMatchObject({
      role: 'assistant',
      content: 'We are open Monday to Saturday, 9am to 6pm.',
      refusal: null,
    });
    const promptChars = SYSTEM.length + 'Habari, what time do you open on Saturday? Hours please'.length;
    expect(completion.usage).toEqual({
      prompt_tokens: Math.ceil(promptChars / 4),
      completion_tokens: Math.ceil(choice.message.content!.length / 4),
      total_tokens: Math.ceil(promptChars / 4) + Math.ceil(choice.message.content!.length / 4),
    });
  });

  it('picks the best-matching question', async () => {
    const completion = await ask('Can you deliver a guitar to Kisumu?');
    expect(completion.choices[0]!.message.content).toBe('Yes, we deliver countrywide via G4S within 3 days.');
  });

  it(`says ${HANDOVER_TOKEN} when the FAQ does not ground an answer`, async () => {
    expect((await ask('I want to talk about my M-Pesa refund')).choices[0]!.message.content).toBe(HANDOVER_TOKEN);
    // "hi" must not match anything (no substring matching, no filler words).
    expect((await ask('hi, hello, are you there?')).choices[0]!.message.content).toBe(HANDOVER_TOKEN);
    // No FAQ at all.
    const none = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'What are your opening hours?' }],
    });
    expect(none.choices[0]!.message.content).toBe(HANDOVER_TOKEN);
  });

  it('records the request with the API key it came with', async () => {
    const other = new OpenAI({ apiKey: 'sk-tenant-b', baseURL: sim.baseURL, maxRetries: 0, timeout: 2000 });
    await ask('opening hours?');
    await ask('opening hours?', other);
    expect(sim.requests.map((r) => r.apiKey)).toEqual(['sk-test-a', 'sk-tenant-b']);
    const rec = sim.requests[0]!;
    expect(rec).toMatchObject({ model: 'gpt-4o-mini', outcome: 'ok', status: 200, stream: false });
    expect(rec.messages).toHaveLength(2);
    expect(rec.messages[1]).toEqual({ role: 'user', content: 'opening hours?' });
    expect(rec.reply).toBe('We are open Monday to Saturday, 9am to 6pm.');
    await expect(sim.waitFor((r) => r.length === 2, 500)).resolves.toHaveLength(2);
  });

  it('uses a custom responder', async () => {
    sim.setResponder(async (req) => `echo:${req.model}:${req.messages.length}`);
    expect((await ask('x')).choices[0]!.message.content).toBe('echo:gpt-4o-mini:2');
  });

  it('streams SSE chunks ending with [DONE] that the SDK reassembles', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: 'opening hours?' },
      ],
    });
    let text = '';
    let finish: string | null = null;
    let usage: unknown = null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('We are open Monday to Saturday, 9am to 6pm.');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ completion_tokens: Math.ceil(text.length / 4) });

    const raw = await fetch(`${sim.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect((await raw.text()).trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('lists models', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('gpt-4o-mini');
  });

  it('refuses keys outside an allow-list with 401', async () => {
    sim.setApiKeys(['sk-only-this']);
    const err = await ask('hours?').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(401);
  });
});

describe('openai simulator: faults', () => {
  it('500 fault surfaces as APIError with status 500 and OpenAI error body', async () => {
    sim.failNext(1, 'error');
    const err = await ask('hours?').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(500);
    expect(apiErr.error).toEqual({ message: expect.any(String), type: 'server_error', param: null, code: null });
    expect(sim.requests[0]).toMatchObject({ outcome: 'error', status: 500 });
    expect((await ask('hours?')).choices[0]!.message.content).toMatch(/open/);
  });

  it('429 fault surfaces as RateLimitError, and the SDK retries it quickly when allowed', async () => {
    sim.failNext(1, '429');
    const err = await ask('hours?').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(429);

    sim.failNext(2, '429');
    const retrying = new OpenAI({ apiKey: 'sk-test-a', baseURL: sim.baseURL, maxRetries: 2, timeout: 2000 });
    const t0 = Date.now();
    expect((await ask('hours?', retrying)).choices[0]!.message.content).toMatch(/open/);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(sim.requests.map((r) => r.status)).toEqual([429, 429, 429, 200]);
  });

  it('timeout fault → APIConnectionTimeoutError', async () => {
    sim.failNext(1, 'timeout');
    const t0 = Date.now();
    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hours?' }] }, { timeout: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(sim.requests[0]).toMatchObject({ outcome: 'timeout', status: 0 });
  });

  it('random rates come from the seeded PRNG; latency delays the answer', async () => {
    const outcomes = async () => {
      const s = await startOpenAISimulator({ seed: 99, faults: { errorRate: 0.3, rateLimitRate: 0.2 } });
      const c = new OpenAI({ apiKey: 'k', baseURL: s.baseURL, maxRetries: 0, timeout: 2000 });
      try {
        const out: string[] = [];
        for (let i = 0; i < 20; i++) {
          out.push(
            await c.chat.completions
              .create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })
              .then(() => 'ok')
              .catch((e: InstanceType<typeof OpenAI.APIError>) => String(e.status)),
          );
        }
        return out;
      } finally {
        await s.close();
      }
    };
    const a = await outcomes();
    expect(await outcomes()).toEqual(a);
    expect(new Set(a)).toEqual(new Set(['ok', '500', '429']));

    sim.setFaults({ latencyMs: { min: 100, max: 150 } });
    const t0 = Date.now();
    await ask('hours?');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
  });

  it('close() ends a request held by a timeout fault', async () => {
    const s = await startOpenAISimulator();
    s.setFaults({ timeoutRate: 1 });
    const c = new OpenAI({ apiKey: 'k', baseURL: s.baseURL, maxRetries: 0, timeout: 10_000 });
    const pending = c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    await s.waitFor((r) => r.length === 1, 2_000);
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});

describe('openai simulator: audio transcription', () => {
  it('returns the transcript set with setTranscript via the SDK and records the upload', async () => {
    const audio = Buffer.from([0x4f, 0x67, 0x67, 0x53, 0x00, 0x02, 0xff, 0xfe, 0x10]);
    sim.setTranscript('Do you have a Yamaha keyboard?');
    const result = await client.audio.transcriptions.create({
      file: await toFile(audio, 'voice.ogg'),
      model: 'whisper-1',
    });
    expect(result.text).toBe('Do you have a Yamaha keyboard?');
    expect(sim.transcriptions).toHaveLength(1);
    const rec = sim.transcriptions[0]!;
    expect(rec).toMatchObject({ apiKey: 'sk-test-a', model: 'whisper-1', fileName: 'voice.ogg', outcome: 'ok' });
    expect(rec.bytes.equals(audio)).toBe(true);
  });

  it('transcribes per-bytes registrations, and printable bytes as themselves', async () => {
    const a = Buffer.from([1, 2, 3, 250]);
    sim.setTranscript('bei ya gitaa ni ngapi', a);
    expect(sim.transcriptFor(a)).toBe('bei ya gitaa ni ngapi');
    const spoken = await client.audio.transcriptions.create({
      file: await toFile(Buffer.from('What are your opening hours?'), 'note.ogg'),
      model: 'whisper-1',
    });
    expect(spoken.text).toBe('What are your opening hours?');
    const registered = await client.audio.transcriptions.create({ file: await toFile(a, 'a.ogg'), model: 'whisper-1' });
    expect(registered.text).toBe('bei ya gitaa ni ngapi');
  });
});
