import { describe, expect, it } from 'vitest';
import { ConfigError } from '@alphadome/tenant-core';
import { DEFAULT_MAX_INFLIGHT_BODY_BYTES, inflightBodyBudgetFromEnv, MAX_WEBHOOK_BYTES } from '../src/webhook-routes.ts';

describe('INGRESS_MAX_INFLIGHT_BYTES', () => {
  it('defaults to 24 MiB and takes a whole number of bytes', () => {
    expect(inflightBodyBudgetFromEnv({})).toBe(DEFAULT_MAX_INFLIGHT_BODY_BYTES);
    expect(DEFAULT_MAX_INFLIGHT_BODY_BYTES).toBe(24 * 1024 * 1024);
    expect(inflightBodyBudgetFromEnv({ INGRESS_MAX_INFLIGHT_BYTES: '67108864' })).toBe(64 * 1024 * 1024);
  });
  it('refuses a value below one maximum-size webhook, or not a whole number, naming the variable', () => {
    for (const bad of ['1000', '-1', '3.5e7x', '25000000.5', String(MAX_WEBHOOK_BYTES - 1)]) {
      expect(() => inflightBodyBudgetFromEnv({ INGRESS_MAX_INFLIGHT_BYTES: bad })).toThrow(ConfigError);
      expect(() => inflightBodyBudgetFromEnv({ INGRESS_MAX_INFLIGHT_BYTES: bad })).toThrow(/INGRESS_MAX_INFLIGHT_BYTES: must be a whole number of bytes/);
    }
  });
});
