// Meta Graph API error responses as the Cloud API returns them:
// { error: { message, type, code, error_subcode?, is_transient?, error_data?: { messaging_product, details }, fbtrace_id } }
import { randomBytes } from 'node:crypto';

/** Error kinds the Graph simulator can inject; the key is Meta's error code (500/503 = HTTP status, codes 1/2). */
export type GraphErrorKind =
  | '130429'
  | '131056'
  | '131026'
  | '131047'
  | '131048'
  | '131000'
  | '131016'
  | '131005'
  | '368'
  | '80007'
  | '4'
  | '190'
  | '500'
  | '503';

export interface GraphErrorSpec {
  /** HTTP status Meta answers with. */
  status: number;
  code: number;
  message: string;
  subcode?: number;
  /** error_data.details (WhatsApp Cloud API errors carry one). */
  details?: string;
  transient?: boolean;
  type?: string;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** Meta's style: "Tuesday, 07-Jan-25 04:00:00 UTC". */
function metaDate(d: Date): string {
  return (
    `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${pad(d.getUTCFullYear() % 100)} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`
  );
}

export const GRAPH_ERRORS: Readonly<Record<GraphErrorKind, GraphErrorSpec>> = {
  '130429': {
    status: 400,
    code: 130429,
    message: '(#130429) Rate limit hit',
    details: 'Cloud API message throughput has been reached.',
  },
  '131056': {
    status: 400,
    code: 131056,
    message: '(#131056) (Business Account, Consumer Account) pair rate limit hit',
    details:
      'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.',
  },
  '131026': {
    status: 400,
    code: 131026,
    message: '(#131026) Message undeliverable',
    details:
      'Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted our new Terms of Service and Privacy Policy; the recipient is using an old WhatsApp version.',
  },
  '131047': {
    status: 400,
    code: 131047,
    message: '(#131047) Re-engagement message',
    details:
      'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  '131048': {
    status: 400,
    code: 131048,
    message: '(#131048) Spam rate limit hit',
    details:
      'Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam.',
  },
  '131000': {
    status: 500,
    code: 131000,
    message: '(#131000) Something went wrong',
    details: 'Message failed to send due to an unknown error.',
  },
  '131016': {
    status: 503,
    code: 131016,
    message: '(#131016) Service unavailable',
    details: 'A service is temporarily unavailable.',
  },
  '131005': {
    status: 403,
    code: 131005,
    message: '(#131005) Access denied',
    details: 'Permission is either not granted or has been removed.',
  },
  '368': {
    status: 403,
    code: 368,
    message: '(#368) Temporarily blocked for policies violations',
    details:
      'The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy.',
  },
  '80007': {
    status: 400,
    code: 80007,
    message: '(#80007) Rate limit issues',
    details: 'The WhatsApp Business Account has reached its rate limit.',
  },
  '4': { status: 400, code: 4, message: '(#4) Application request limit reached', transient: true },
  '190': expiredTokenSpec(new Date(Date.now() - 3_600_000)),
  '500': { status: 500, code: 1, message: 'An unknown error occurred', transient: true },
  '503': { status: 503, code: 2, message: 'Service temporarily unavailable', transient: true },
};

export function expiredTokenSpec(expiredAt: Date, now = new Date()): GraphErrorSpec {
  return {
    status: 401,
    code: 190,
    subcode: 463,
    message: `Error validating access token: Session has expired on ${metaDate(expiredAt)}. The current time is ${metaDate(now)}.`,
  };
}

export const UNPARSEABLE_TOKEN: GraphErrorSpec = {
  status: 401,
  code: 190,
  message: 'Invalid OAuth access token - Cannot parse access token',
};

export const MISSING_TOKEN: GraphErrorSpec = {
  status: 401,
  code: 190,
  message: 'An active access token must be used to query information about the current user.',
};

export function invalidParameter(message: string, code = 100, details?: string): GraphErrorSpec {
  return { status: 400, code, message, ...(details ? { details } : {}) };
}

export function fbtraceId(): string {
  return randomBytes(9).toString('base64').replace(/[+/]/g, 'A').slice(0, 11);
}

export interface GraphErrorBody {
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    is_transient?: boolean;
    error_data?: { messaging_product: 'whatsapp'; details: string };
    fbtrace_id: string;
  };
}

export function graphErrorBody(spec: GraphErrorSpec, traceId = fbtraceId()): GraphErrorBody {
  return {
    error: {
      message: spec.message,
      type: spec.type ?? 'OAuthException',
      code: spec.code,
      ...(spec.subcode !== undefined ? { error_subcode: spec.subcode } : {}),
      ...(spec.transient ? { is_transient: true } : {}),
      ...(spec.details ? { error_data: { messaging_product: 'whatsapp' as const, details: spec.details } } : {}),
      fbtrace_id: traceId,
    },
  };
}
