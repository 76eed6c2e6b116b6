// @alphadome/testkit — loopback simulators of Meta's WhatsApp Graph API and of an
// OpenAI-compatible server, for tests, `npm start` and the benchmarks.
export { GraphSimulator, startGraphSimulator } from './graph-simulator.ts';
export type {
  DebugTokenRecord,
  GraphFaultKind,
  GraphFaults,
  GraphMessageBody,
  GraphOutcome,
  GraphRequestRecord,
  GraphScriptStep,
  GraphSimulatorOptions,
  MediaEntry,
  MediaRequestRecord,
  StatusDeliveryRecord,
  StatusWebhookOptions,
  TokenInfo,
} from './graph-simulator.ts';
export { GRAPH_ERRORS, graphErrorBody } from './graph-errors.ts';
export type { GraphErrorBody, GraphErrorKind, GraphErrorSpec } from './graph-errors.ts';
export { validateMessageBody } from './graph-validate.ts';
export type { MessageBodyKind } from './graph-validate.ts';

export { OpenAISimulator, defaultResponder, parseMultipart, startOpenAISimulator } from './openai-simulator.ts';
export type {
  ChatRequest,
  ChatRequestRecord,
  OpenAIFaultKind,
  OpenAIFaults,
  OpenAIOutcome,
  OpenAIScriptStep,
  OpenAISimulatorOptions,
  Responder,
  TranscriptionRecord,
  Usage,
} from './openai-simulator.ts';
export { HANDOVER_TOKEN, extractFaq, groundedAnswer, messageText, significantWords } from './grounded-responder.ts';
export type { ChatContent, ChatMessage, FaqPair } from './grounded-responder.ts';

export { createRng } from './http-util.ts';
export type { Latency, Rng } from './http-util.ts';
