import OpenAI, { toFile } from 'openai';

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface LlmAnswer {
  text: string;
  promptTokens: number;
  completionTokens: number;
  model: string;
}

export interface LlmCall {
  apiKey: string;
  model: string;
  timeoutMs: number;
  messages: ChatTurn[];
}

export type LlmClient = (call: LlmCall) => Promise<LlmAnswer>;

/** Why the LLM gave no answer; the message never includes the API key. */
export class LlmError extends Error {
  override readonly name = 'LlmError';
  constructor(
    message: string,
    readonly kind: 'timeout' | 'http' | 'empty' | 'network',
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Chat completions through the openai SDK against OPENAI_BASE_URL (any OpenAI-compatible
 * server). The SDK's own retries are off: BullMQ retries the reply job with backoff, then the
 * last attempt falls back to the tenant's fallback reply.
 */
export function createLlmClient(opts: { baseURL?: string | undefined }): LlmClient {
  return async (call) => {
    const client = new OpenAI({
      apiKey: call.apiKey,
      ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      timeout: call.timeoutMs,
      maxRetries: 0,
    });
    let res: OpenAI.Chat.Completions.ChatCompletion;
    try {
      res = await client.chat.completions.create({ model: call.model, messages: call.messages, temperature: 0.2 });
    } catch (err) {
      if (err instanceof OpenAI.APIConnectionTimeoutError) throw new LlmError(`LLM timed out after ${call.timeoutMs} ms`, 'timeout');
      if (err instanceof OpenAI.APIError && err.status !== undefined) {
        throw new LlmError(`LLM answered HTTP ${err.status}`, 'http', err.status);
      }
      throw new LlmError('LLM request failed (network)', 'network');
    }
    const text = res.choices[0]?.message?.content?.trim() ?? '';
    if (text === '') throw new LlmError('LLM returned an empty answer', 'empty');
    return {
      text,
      promptTokens: res.usage?.prompt_tokens ?? 0,
      completionTokens: res.usage?.completion_tokens ?? 0,
      model: res.model || call.model,
    };
  };
}

export interface TranscribeCall {
  apiKey: string;
  model: string;
  timeoutMs: number;
  audio: Buffer;
  mimeType: string;
}

/** Speech to text (voice notes); resolves with the transcript, '' when nothing was heard. */
export type Transcriber = (call: TranscribeCall) => Promise<string>;

const audioExtension = (mime: string) =>
  /ogg|opus/.test(mime) ? 'ogg' : /mpeg|mp3/.test(mime) ? 'mp3' : /mp4|m4a|aac/.test(mime) ? 'm4a' : /wav/.test(mime) ? 'wav' : /webm/.test(mime) ? 'webm' : 'ogg';

/** OpenAI's audio transcription API (`/v1/audio/transcriptions`) through the SDK. */
export function createTranscriber(opts: { baseURL?: string | undefined }): Transcriber {
  return async (call) => {
    const client = new OpenAI({
      apiKey: call.apiKey,
      ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      timeout: call.timeoutMs,
      maxRetries: 0,
    });
    const mime = call.mimeType.split(';')[0]!.trim() || 'audio/ogg';
    try {
      const file = await toFile(call.audio, `voice-note.${audioExtension(mime)}`, { type: mime });
      const res = await client.audio.transcriptions.create({ file, model: call.model });
      return (res.text ?? '').trim();
    } catch (err) {
      if (err instanceof OpenAI.APIConnectionTimeoutError) throw new LlmError(`transcription timed out after ${call.timeoutMs} ms`, 'timeout');
      if (err instanceof OpenAI.APIError && err.status !== undefined) throw new LlmError(`transcription answered HTTP ${err.status}`, 'http', err.status);
      throw new LlmError('transcription request failed (network)', 'network');
    }
  };
}
