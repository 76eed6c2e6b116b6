// The checks Meta applies to a /messages body that clients most often get wrong
// (missing fields, WhatsApp's interactive-message length limits), so tests catch them
// here instead of in production.
import { invalidParameter } from './graph-errors.ts';
import type { GraphErrorSpec } from './graph-errors.ts';

const MESSAGE_TYPES = new Set([
  'audio',
  'contacts',
  'document',
  'image',
  'interactive',
  'location',
  'reaction',
  'sticker',
  'template',
  'text',
  'video',
]);
const MEDIA_TYPES = new Set(['audio', 'document', 'image', 'sticker', 'video']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const required = (param: string) => invalidParameter(`(#100) The parameter ${param} is required.`);
const invalidValue = (details: string) => invalidParameter('(#131009) Parameter value is not valid', 131009, details);

function tooLong(what: string, value: string | undefined, max: number, min = 1): GraphErrorSpec | null {
  const len = value === undefined ? 0 : [...value].length;
  if (len < min || len > max) return invalidValue(`${what} length invalid. Min length: ${min}, Max length: ${max}`);
  return null;
}

export type MessageBodyKind = 'send' | 'read';

/** Returns the error Meta would answer with, or null when the body is acceptable. */
export function validateMessageBody(body: unknown): { kind: MessageBodyKind; error: GraphErrorSpec | null } {
  if (!isObj(body)) return { kind: 'send', error: required('messaging_product') };
  const kind: MessageBodyKind = body.status !== undefined ? 'read' : 'send';
  const product = body.messaging_product;
  if (product === undefined) return { kind, error: required('messaging_product') };
  if (product !== 'whatsapp') {
    return {
      kind,
      error: invalidParameter(`(#100) Param messaging_product must be one of {WHATSAPP} - got "${String(product)}".`),
    };
  }
  return { kind, error: kind === 'read' ? validateRead(body) : validateSend(body) };
}

function validateRead(body: Obj): GraphErrorSpec | null {
  if (body.status !== 'read') {
    return invalidParameter(`(#100) Param status must be one of {READ} - got "${String(body.status)}".`);
  }
  if (!str(body.message_id)) return required('message_id');
  const ti = body.typing_indicator;
  if (ti !== undefined && (!isObj(ti) || ti.type !== 'text')) {
    return invalidParameter('(#100) Param typing_indicator[type] must be one of {TEXT}.');
  }
  return null;
}

function validateSend(body: Obj): GraphErrorSpec | null {
  // a phone number goes in `to`, a business-scoped user id (US.…) in `recipient`
  if (!str(body.to) && !str(body.recipient)) return required('to');
  const type = body.type === undefined ? 'text' : body.type;
  if (typeof type !== 'string' || !MESSAGE_TYPES.has(type)) {
    return invalidParameter(
      `(#100) Param type must be one of {${[...MESSAGE_TYPES].join(', ').toUpperCase()}} - got "${String(type)}".`,
    );
  }
  const callback = body.biz_opaque_callback_data;
  if (callback !== undefined && (typeof callback !== 'string' || [...callback].length > 512)) {
    return invalidParameter('(#100) Param biz_opaque_callback_data must be a string of at most 512 characters.');
  }
  const payload = body[type];
  if (!isObj(payload)) return required(type);
  if (type === 'text') {
    const text = str(payload.body);
    if (!text) return required("text['body']");
    if (text.length > 4096) return invalidParameter("(#100) Param text['body'] must be at most 4096 characters long.");
    return null;
  }
  if (MEDIA_TYPES.has(type)) {
    if (!str(payload.id) && !str(payload.link)) {
      return invalidParameter(`(#100) Param ${type} must contain either id or link.`);
    }
    return null;
  }
  if (type === 'template') {
    if (!str(payload.name)) return required("template['name']");
    if (!isObj(payload.language) || !str(payload.language.code)) return required("template['language']['code']");
    return null;
  }
  if (type === 'interactive') return validateInteractive(payload);
  return null;
}

function validateInteractive(ia: Obj): GraphErrorSpec | null {
  const iaType = str(ia.type);
  if (!iaType) return required("interactive['type']");
  const action = ia.action;
  if (!isObj(action)) return required("interactive['action']");
  const header = ia.header;
  if (isObj(header) && header.type === 'text') {
    const e = tooLong('Header text', str(header.text), 60);
    if (e) return e;
  }
  if (isObj(ia.footer)) {
    const e = tooLong('Footer text', str(ia.footer.text), 60);
    if (e) return e;
  }
  const bodyText = isObj(ia.body) ? str(ia.body.text) : undefined;

  if (iaType === 'button') {
    if (!bodyText) return required("interactive['body']['text']");
    const e = tooLong('Body text', bodyText, 1024);
    if (e) return e;
    const buttons = action.buttons;
    if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3) {
      return invalidValue('Buttons count invalid. Min count: 1, Max count: 3');
    }
    const ids = new Set<string>();
    for (const b of buttons) {
      const reply = isObj(b) && isObj(b.reply) ? b.reply : undefined;
      if (!reply) return required("interactive['action']['buttons'][]['reply']");
      const id = str(reply.id);
      const idErr = tooLong('Button id', id, 256);
      if (idErr) return idErr;
      const titleErr = tooLong('Button title', str(reply.title), 20);
      if (titleErr) return titleErr;
      if (ids.has(id!)) return invalidValue('Button ids must be unique');
      ids.add(id!);
    }
    return null;
  }

  if (iaType === 'list') {
    if (!bodyText) return required("interactive['body']['text']");
    const e = tooLong('Body text', bodyText, 4096);
    if (e) return e;
    const buttonErr = tooLong('Button text', str(action.button), 20);
    if (buttonErr) return buttonErr;
    const sections = action.sections;
    if (!Array.isArray(sections) || sections.length < 1 || sections.length > 10) {
      return invalidValue('Sections count invalid. Min count: 1, Max count: 10');
    }
    let rows = 0;
    const ids = new Set<string>();
    for (const s of sections) {
      if (!isObj(s)) return required("interactive['action']['sections'][]");
      if (sections.length > 1 || s.title !== undefined) {
        const t = tooLong('Section title', str(s.title), 24);
        if (t) return t;
      }
      if (!Array.isArray(s.rows) || s.rows.length < 1) return required("interactive['action']['sections'][]['rows']");
      for (const r of s.rows) {
        if (!isObj(r)) return required("interactive['action']['sections'][]['rows'][]");
        rows++;
        const id = str(r.id);
        const idErr = tooLong('Row id', id, 200);
        if (idErr) return idErr;
        const titleErr = tooLong('Row title', str(r.title), 24);
        if (titleErr) return titleErr;
        if (r.description !== undefined) {
          const d = tooLong('Row description', str(r.description), 72, 0);
          if (d) return d;
        }
        if (ids.has(id!)) return invalidValue('Row ids must be unique');
        ids.add(id!);
      }
    }
    if (rows > 10) return invalidValue('Total row count exceed max allowed count: 10');
    return null;
  }
  return null;
}
