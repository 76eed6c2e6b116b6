import { describe, expect, it } from 'vitest';
import { ConfigError } from '@alphadome/tenant-core';
import { defaultInboundPace, inboundPaceFromEnv, paceDelayMs } from '../src/pace.ts';

describe('inbound pacing (pace.ts)', () => {
  it('delays a tenant\'s jobs beyond its free backlog to their slot at the pace', () => {
    const pace = { perSecond: 80, free: 32 };
    expect(paceDelayMs(pace, 1)).toBe(0);
    expect(paceDelayMs(pace, 32)).toBe(0);
    expect(paceDelayMs(pace, 33)).toBe(13); // 12.5 ms, rounded
    expect(paceDelayMs(pace, 112)).toBe(1_000);
    expect(paceDelayMs(pace, 5_032)).toBe(62_500);
    expect(paceDelayMs({ perSecond: 0, free: 0 }, 10_000)).toBe(0); // off
  });

  it('reads INGRESS_TENANT_PACE_PER_S and INGRESS_TENANT_PACE_FREE, and refuses nonsense', () => {
    expect(inboundPaceFromEnv({})).toEqual(defaultInboundPace);
    expect(inboundPaceFromEnv({ INGRESS_TENANT_PACE_PER_S: '0' })).toEqual({ perSecond: 0, free: defaultInboundPace.free });
    expect(inboundPaceFromEnv({ INGRESS_TENANT_PACE_PER_S: '20', INGRESS_TENANT_PACE_FREE: '5' })).toEqual({ perSecond: 20, free: 5 });
    for (const bad of ['-1', 'fast', '2.5']) {
      expect(() => inboundPaceFromEnv({ INGRESS_TENANT_PACE_PER_S: bad })).toThrow(ConfigError);
      expect(() => inboundPaceFromEnv({ INGRESS_TENANT_PACE_FREE: bad })).toThrow(/INGRESS_TENANT_PACE_FREE/);
    }
  });
});
