import { describe, expect, it } from 'vitest';
import { inboundJobId, statusJobId } from '../src/index.ts';

// Job ids are how Meta's redeliveries become no-ops: they must not change between releases
// (a redelivery across a deploy would otherwise make a second job), so they are pinned here.
describe('job ids', () => {
  const tenant = '00000000-0000-4000-8000-000000000001';
  it('are the pinned digests of (tenant, wamid[, status])', () => {
    expect(inboundJobId(tenant, 'wamid.HBgM')).toBe('in-_oM6W04s2uYxNDcU_l3f7G0Rh9loFLHC');
    expect(statusJobId(tenant, 'wamid.HBgM', 'delivered')).toBe('st-RHv1iYULdzTqpKRxbSkMKxbiK49f7BVk');
  });
  it('differ by tenant, wamid and status, and fit BullMQ (no ":")', () => {
    const ids = new Set([
      inboundJobId(tenant, 'wamid.A'),
      inboundJobId('00000000-0000-4000-8000-000000000002', 'wamid.A'),
      inboundJobId(tenant, 'wamid.B'),
      statusJobId(tenant, 'wamid.A', 'sent'),
      statusJobId(tenant, 'wamid.A', 'read'),
    ]);
    expect(ids.size).toBe(5);
    for (const id of ids) expect(id).toMatch(/^(in|st)-[A-Za-z0-9_-]{32}$/);
  });
});
