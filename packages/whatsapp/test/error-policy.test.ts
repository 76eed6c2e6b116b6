import { describe, expect, it } from 'vitest';
import {
  classifyGraphError,
  describeGraphError,
  GRAPH_ERROR_CODES,
  GraphApiError,
  httpStatusErrorCode,
  isRetryable,
} from '../src/index.ts';

describe('classifyGraphError', () => {
  it.each([
    [130429, 'retry'],
    [131056, 'retry'],
    [4, 'retry'],
    [80007, 'retry'],
    [131000, 'retry'],
    [131016, 'retry'],
    [2, 'retry'],
    [1, 'retry'],
    [-1, 'retry'],
    [-2, 'retry'],
    [httpStatusErrorCode(502), 'retry'],
    [httpStatusErrorCode(503), 'retry'],
    [httpStatusErrorCode(429), 'retry'],
    [131047, 'outside_window'],
    [190, 'auth'],
    [131026, 'fail'],
    [131048, 'fail'],
    [368, 'fail'],
    [131005, 'fail'],
    [httpStatusErrorCode(404), 'fail'],
    [-3, 'fail'],
    [424242, 'fail'],
    [Number.NaN, 'fail'],
  ] as const)('%s → %s', (code, policy) => {
    expect(classifyGraphError(code)).toBe(policy);
  });

  it("follows Meta's is_transient only for unknown codes", () => {
    expect(classifyGraphError(424242, { isTransient: true })).toBe('retry');
    expect(classifyGraphError(131026, { isTransient: true })).toBe('fail');
  });

  it('describes every known code', () => {
    for (const [code, info] of Object.entries(GRAPH_ERROR_CODES)) {
      expect(info.description.length, code).toBeGreaterThan(3);
      expect(describeGraphError(Number(code))).toBe(info.description);
    }
    expect(describeGraphError(-502)).toContain('502');
  });
});

describe('isRetryable', () => {
  it('only for GraphApiErrors whose policy is retry', () => {
    expect(isRetryable(new GraphApiError({ code: 130429, title: 'rate' }))).toBe(true);
    expect(isRetryable(new GraphApiError({ code: 190, title: 'auth' }))).toBe(false);
    expect(isRetryable(new Error('x'))).toBe(false);
    expect(isRetryable({ policy: 'retry' })).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
  });
});
