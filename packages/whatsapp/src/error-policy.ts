/**
 * What to do about a Graph API error, decided by Meta's error *code* (never by HTTP status:
 * Meta returns most errors as HTTP 400, including rate limits).
 *
 * - `retry`          transient: back off and try the same request again
 * - `outside_window` the 24-hour customer-service window is closed: only an approved template
 *                    may be sent (or nothing)
 * - `auth`           the access token is expired/invalid/lacks permission: mark the tenant's
 *                    credentials invalid, alert, and do not retry
 * - `fail`           permanent for this message: record the failure, do not retry
 */
export type GraphErrorPolicy = 'retry' | 'outside_window' | 'auth' | 'fail';

/** Synthetic codes for failures that never produced a Meta error body. */
export const GRAPH_TIMEOUT_CODE = -1;
export const GRAPH_NETWORK_CODE = -2;
/** A 2xx answer we could not understand (e.g. no wamid). The request may have succeeded. */
export const GRAPH_INVALID_RESPONSE_CODE = -3;
/** We refused to make the request (e.g. a media URL on a host we do not send tokens to). */
export const GRAPH_REFUSED_REQUEST_CODE = -4;

/**
 * A non-JSON (or JSON without an error code) HTTP error answer, e.g. an HTML 502 from a proxy,
 * is reported as minus its HTTP status: 502 → -502. Range -100..-599, so it never collides with
 * the small synthetic codes above.
 */
export function httpStatusErrorCode(httpStatus: number): number {
  return -Math.trunc(httpStatus);
}

export interface GraphErrorCodeInfo {
  readonly policy: GraphErrorPolicy;
  readonly description: string;
}

/** Known codes, for the policy and for logs / the dashboard. */
export const GRAPH_ERROR_CODES: Readonly<Record<number, GraphErrorCodeInfo>> = Object.freeze({
  // synthetic
  [GRAPH_TIMEOUT_CODE]: { policy: 'retry', description: 'Request to the Graph API timed out' },
  [GRAPH_NETWORK_CODE]: { policy: 'retry', description: 'Network error reaching the Graph API' },
  [GRAPH_INVALID_RESPONSE_CODE]: {
    // Not retried: the message may already have been delivered, and a duplicate reply is
    // worse for a customer than one recorded failure.
    policy: 'fail',
    description: 'Unexpected success response from the Graph API (no message id)',
  },
  [GRAPH_REFUSED_REQUEST_CODE]: { policy: 'fail', description: 'Request refused locally' },

  // authentication / authorisation
  0: { policy: 'auth', description: 'AuthException: unable to authenticate the app user' },
  10: { policy: 'auth', description: 'Permission denied (permission not granted or removed)' },
  190: { policy: 'auth', description: 'Access token expired or invalid' },
  200: { policy: 'auth', description: 'Permission denied for this operation' },

  // transient / throttling
  1: { policy: 'retry', description: 'API unknown error (possibly temporary)' },
  2: { policy: 'retry', description: 'API service temporarily unavailable' },
  4: { policy: 'retry', description: 'Application request limit reached' },
  80007: { policy: 'retry', description: 'WhatsApp Business Account rate limit reached' },
  130429: { policy: 'retry', description: 'Cloud API throughput limit reached' },
  131000: { policy: 'retry', description: 'Something went wrong (generic, often transient)' },
  131016: { policy: 'retry', description: 'Service temporarily unavailable' },
  131056: { policy: 'retry', description: 'Pair rate limit: too many messages to this user' },
  131057: { policy: 'retry', description: 'Business account in maintenance mode' },

  // the 24-hour window
  131047: {
    policy: 'outside_window',
    description: 'Re-engagement required: more than 24 hours since the user last wrote',
  },

  // permanent for this message / account
  3: { policy: 'fail', description: 'Capability or permission missing for this method' },
  33: { policy: 'fail', description: 'Object does not exist or is not accessible' },
  100: { policy: 'fail', description: 'Invalid parameter' },
  368: { policy: 'fail', description: 'Temporarily blocked for policy violations' },
  130472: { policy: 'fail', description: "User's number is part of an experiment" },
  131005: { policy: 'fail', description: 'Access denied' },
  131008: { policy: 'fail', description: 'Required parameter is missing' },
  131009: { policy: 'fail', description: 'Parameter value is not valid' },
  131021: { policy: 'fail', description: 'Recipient cannot be the sender' },
  131026: { policy: 'fail', description: 'Message undeliverable to this user' },
  131031: { policy: 'fail', description: 'Business account has been locked' },
  131037: { policy: 'fail', description: 'Display name needs approval' },
  131042: { policy: 'fail', description: 'Business eligibility / payment issue' },
  131045: { policy: 'fail', description: 'Phone number not registered (certificate)' },
  131048: { policy: 'fail', description: 'Spam rate limit hit: too many messages blocked/reported' },
  131049: { policy: 'fail', description: 'Meta chose not to deliver (ecosystem engagement)' },
  131050: { policy: 'fail', description: 'User stopped receiving marketing messages' },
  131051: { policy: 'fail', description: 'Unsupported message type' },
  131052: { policy: 'fail', description: 'Media download error' },
  131053: { policy: 'fail', description: 'Media upload error' },
  131062: { policy: 'fail', description: 'Business-scoped user id recipients not supported here' },
  132000: { policy: 'fail', description: 'Template parameter count mismatch' },
  132001: { policy: 'fail', description: 'Template does not exist in this language' },
  132005: { policy: 'fail', description: 'Translated template text too long' },
  132007: { policy: 'fail', description: 'Template format character policy violated' },
  132012: { policy: 'fail', description: 'Template parameter format mismatch' },
  132015: { policy: 'fail', description: 'Template is paused' },
  132016: { policy: 'fail', description: 'Template is disabled' },
  133010: { policy: 'fail', description: 'Phone number not registered with Cloud API' },
  135000: { policy: 'fail', description: 'Generic user error' },
} satisfies Record<number, GraphErrorCodeInfo>);

/**
 * Policy for a Meta error code (or one of the synthetic codes above).
 *
 * Unknown codes → 'fail'. Retrying an error we do not understand risks sending the same text
 * twice (the old installation's retry loop re-sent marketing text) and burning rate limit on a
 * request that will never succeed; a single failed send is recorded and the worker's fallback /
 * handover path takes over. Transient trouble without a code (timeouts, network, 5xx pages) has
 * its own synthetic codes and *is* retried. `isTransient` is Meta's own `is_transient` flag: when
 * Meta says so, an unknown code is retried.
 */
export function classifyGraphError(code: number, opts?: { isTransient?: boolean }): GraphErrorPolicy {
  const known = GRAPH_ERROR_CODES[code];
  if (known) return known.policy;
  if (code <= -100 && code >= -599) {
    const status = -code;
    if (status >= 500 || status === 429 || status === 408) return 'retry';
    return 'fail';
  }
  return opts?.isTransient === true ? 'retry' : 'fail';
}

/** A short human description for logs and the dashboard. */
export function describeGraphError(code: number): string {
  const known = GRAPH_ERROR_CODES[code];
  if (known) return known.description;
  if (code <= -100 && code >= -599) return `HTTP ${-code} without a Graph API error body`;
  return 'Unknown Graph API error code';
}
