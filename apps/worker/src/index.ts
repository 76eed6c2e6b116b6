export { startWorker, type StartWorkerOptions, type WorkerHandle } from './worker.ts';
export { WorkerMetrics } from './metrics.ts';
export type { ReplyJob, SendJob } from './queues.ts';
export { matchCanned } from './reply/canned-match.ts';
export { chooseReply, buildLlmMessages, HANDOVER, type ChosenReply } from './reply/choose-reply.ts';
