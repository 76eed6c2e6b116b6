import { classifyGraphError, type GraphErrorPolicy } from './error-policy.ts';

export interface GraphApiErrorInit {
  /** Meta error code, or a synthetic one (see error-policy.ts). */
  code: number;
  subcode?: number | undefined;
  httpStatus?: number | undefined;
  title: string;
  details?: string | undefined;
  fbtraceId?: string | undefined;
  /** Meta's error `type`, e.g. `OAuthException`. */
  type?: string | undefined;
  /** Which client call failed, e.g. `sendMessage`. */
  operation?: string | undefined;
  /** Meta's `is_transient` flag, when present. */
  isTransient?: boolean | undefined;
}

/**
 * The one error type the Graph client throws. Every string in it has been redacted of the
 * access tokens used for the request, and it never carries the request URL, headers or the
 * underlying fetch error (whose `cause` could hold any of them).
 */
export class GraphApiError extends Error {
  override readonly name = 'GraphApiError';
  readonly code: number;
  readonly subcode: number | undefined;
  readonly httpStatus: number | undefined;
  readonly title: string;
  readonly details: string | undefined;
  readonly fbtraceId: string | undefined;
  readonly type: string | undefined;
  readonly operation: string | undefined;
  readonly policy: GraphErrorPolicy;

  constructor(init: GraphApiErrorInit) {
    const sub = init.subcode !== undefined ? `/${init.subcode}` : '';
    const http = init.httpStatus !== undefined ? ` (HTTP ${init.httpStatus})` : '';
    const op = init.operation ? `${init.operation}: ` : '';
    const details = init.details ? ` — ${init.details}` : '';
    super(`${op}Graph API error ${init.code}${sub}${http}: ${init.title}${details}`);
    this.code = init.code;
    this.subcode = init.subcode;
    this.httpStatus = init.httpStatus;
    this.title = init.title;
    this.details = init.details;
    this.fbtraceId = init.fbtraceId;
    this.type = init.type;
    this.operation = init.operation;
    this.policy = classifyGraphError(init.code, { isTransient: init.isTransient });
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      code: this.code,
      subcode: this.subcode,
      httpStatus: this.httpStatus,
      title: this.title,
      details: this.details,
      fbtraceId: this.fbtraceId,
      type: this.type,
      operation: this.operation,
      policy: this.policy,
    };
  }
}

/** True when the error is a GraphApiError whose policy says to try again. */
export function isRetryable(err: unknown): boolean {
  return err instanceof GraphApiError && err.policy === 'retry';
}
