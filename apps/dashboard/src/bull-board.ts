import type { FastifyInstance } from 'fastify';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Bull Board at /admin/queues. Its routes carry no `access` config, so the global access hook
 * treats them as operator-only (the default); state-changing calls from its UI pass the CSRF
 * check as same-origin requests (see auth.ts).
 */
export async function registerBullBoard(app: FastifyInstance, queues: Queue[]): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  // @bull-board/fastify pins its own copy of @bull-board/api (9.10.1 vs 9.10.2): same shape, distinct types
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'] });
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
}
