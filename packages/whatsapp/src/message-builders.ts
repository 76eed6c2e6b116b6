/**
 * Builders for Graph API `POST /{phone-number-id}/messages` payloads.
 *
 * Human-readable text is cut to Meta's limits (counted in code points, cut on grapheme
 * boundaries, ending in '…'), so catalog names or LLM output can never make Meta reject a reply.
 * Identifiers (row / button ids) are never cut — a truncated id would route the user's tap to
 * the wrong thing — so an over-long, empty or duplicate id throws a RangeError, as does an empty
 * required text: those are bugs in the caller, not data to paper over.
 *
 * Recipients: a phone number goes in `to`; a business-scoped user id (`US.1349…`, or a parent id
 * `US.ENT.…`) goes in `recipient`, which is where Meta's BSUID documentation says the Messages
 * API takes it (when both are present Meta uses `to`, so we never send both).
 */
import { isBusinessScopedUserId } from './parse-webhook.ts';
import { codePointLength, truncateText } from './text-limits.ts';

export const LIMITS = Object.freeze({
  textBody: 4096,
  mediaCaption: 1024,
  interactiveHeaderText: 60,
  interactiveFooter: 60,
  listBody: 4096,
  listButton: 20,
  listSectionTitle: 24,
  listRows: 10,
  listSections: 10,
  listRowTitle: 24,
  listRowDescription: 72,
  listRowId: 200,
  buttonsBody: 1024,
  buttons: 3,
  buttonTitle: 20,
  buttonId: 256,
});

export type Addressee = { to: string } | { recipient: string };

interface PayloadBase {
  messaging_product: 'whatsapp';
  recipient_type: 'individual';
  to?: string;
  recipient?: string;
  context?: { message_id: string };
}

export interface TextPayload extends PayloadBase {
  type: 'text';
  text: { body: string; preview_url?: boolean };
}
export interface ImagePayload extends PayloadBase {
  type: 'image';
  image: { link?: string; id?: string; caption?: string };
}
export interface InteractiveHeader {
  type: 'text';
  text: string;
}
export interface ListPayload extends PayloadBase {
  type: 'interactive';
  interactive: {
    type: 'list';
    header?: InteractiveHeader;
    body: { text: string };
    footer?: { text: string };
    action: {
      button: string;
      sections: { title?: string; rows: { id: string; title: string; description?: string }[] }[];
    };
  };
}
export interface ButtonsPayload extends PayloadBase {
  type: 'interactive';
  interactive: {
    type: 'button';
    header?: InteractiveHeader;
    body: { text: string };
    footer?: { text: string };
    action: { buttons: { type: 'reply'; reply: { id: string; title: string } }[] };
  };
}
export interface TemplatePayload extends PayloadBase {
  type: 'template';
  template: { name: string; language: { code: string }; components?: readonly object[] };
}
export interface ReactionPayload extends PayloadBase {
  type: 'reaction';
  reaction: { message_id: string; emoji: string };
}

export type OutboundMessagePayload =
  | TextPayload
  | ImagePayload
  | ListPayload
  | ButtonsPayload
  | TemplatePayload
  | ReactionPayload;

export interface ReplyOptions {
  /** Quote this inbound message (`context.message_id`). */
  replyToWamid?: string;
}

/** `{to}` for a phone number, `{recipient}` for a business-scoped user id. */
export function addressee(to: string): Addressee {
  const id = to.trim();
  if (id === '') throw new RangeError('recipient must not be empty');
  return isBusinessScopedUserId(id) ? { recipient: id } : { to: id };
}

function base(to: string, opts?: ReplyOptions): PayloadBase {
  const payload: PayloadBase = {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    ...addressee(to),
  };
  if (opts?.replyToWamid) payload.context = { message_id: opts.replyToWamid };
  return payload;
}

function requiredText(value: string, max: number, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new RangeError(`${what} must not be empty`);
  return truncateText(value, max);
}

function checkId(id: string, max: number, what: string, seen: Set<string>): string {
  if (typeof id !== 'string' || id === '') throw new RangeError(`${what} must not be empty`);
  if (codePointLength(id) > max) throw new RangeError(`${what} is longer than ${max} characters`);
  if (seen.has(id)) throw new RangeError(`${what} values must be unique`);
  seen.add(id);
  return id;
}

export function textMessage(
  to: string,
  body: string,
  opts?: ReplyOptions & { previewUrl?: boolean },
): TextPayload {
  const text: TextPayload['text'] = { body: requiredText(body, LIMITS.textBody, 'text body') };
  if (opts?.previewUrl !== undefined) text.preview_url = opts.previewUrl;
  return { ...base(to, opts), type: 'text', text };
}

export function imageMessage(
  to: string,
  image: { link?: string; id?: string; caption?: string },
  opts?: ReplyOptions,
): ImagePayload {
  if (!image.link && !image.id) throw new RangeError('image needs a link or a media id');
  const out: ImagePayload['image'] = image.id ? { id: image.id } : { link: image.link as string };
  if (image.caption) out.caption = truncateText(image.caption, LIMITS.mediaCaption);
  return { ...base(to, opts), type: 'image', image: out };
}

export interface ListRowInput {
  id: string;
  title: string;
  description?: string;
}
export interface ListSectionInput {
  title?: string;
  rows: ListRowInput[];
}
export interface ListMessageInput {
  header?: string;
  body: string;
  footer?: string;
  /** The button that opens the list. */
  button: string;
  sections: ListSectionInput[];
}

/**
 * A list message. Rows beyond Meta's 10 in total are dropped (keep the best first), sections
 * left empty are dropped, and every text is cut to its limit.
 */
export function interactiveListMessage(to: string, list: ListMessageInput, opts?: ReplyOptions): ListPayload {
  const seen = new Set<string>();
  let remaining: number = LIMITS.listRows;
  const sections: ListPayload['interactive']['action']['sections'] = [];
  for (const section of list.sections) {
    if (remaining === 0) break;
    const rows = section.rows.slice(0, remaining).map((row) => {
      const out: { id: string; title: string; description?: string } = {
        id: checkId(row.id, LIMITS.listRowId, 'list row id', seen),
        title: requiredText(row.title, LIMITS.listRowTitle, 'list row title'),
      };
      if (row.description) out.description = truncateText(row.description, LIMITS.listRowDescription);
      return out;
    });
    if (rows.length === 0) continue;
    remaining -= rows.length;
    const out: ListPayload['interactive']['action']['sections'][number] = { rows };
    if (section.title) out.title = truncateText(section.title, LIMITS.listSectionTitle);
    sections.push(out);
  }
  if (sections.length === 0) throw new RangeError('a list message needs at least one row');
  if (sections.length > 1 && sections.some((s) => !s.title)) {
    throw new RangeError('every section needs a title when a list has more than one section');
  }

  const interactive: ListPayload['interactive'] = {
    type: 'list',
    body: { text: requiredText(list.body, LIMITS.listBody, 'list body') },
    action: { button: requiredText(list.button, LIMITS.listButton, 'list button'), sections },
  };
  if (list.header) interactive.header = { type: 'text', text: truncateText(list.header, LIMITS.interactiveHeaderText) };
  if (list.footer) interactive.footer = { text: truncateText(list.footer, LIMITS.interactiveFooter) };
  return { ...base(to, opts), type: 'interactive', interactive };
}

export interface ButtonsMessageInput {
  header?: string;
  body: string;
  footer?: string;
  /** At most 3 are sent; extra ones are dropped. */
  buttons: { id: string; title: string }[];
}

export function interactiveButtonsMessage(
  to: string,
  input: ButtonsMessageInput,
  opts?: ReplyOptions,
): ButtonsPayload {
  const seen = new Set<string>();
  const buttons = input.buttons.slice(0, LIMITS.buttons).map((b) => ({
    type: 'reply' as const,
    reply: {
      id: checkId(b.id, LIMITS.buttonId, 'button id', seen),
      title: requiredText(b.title, LIMITS.buttonTitle, 'button title'),
    },
  }));
  if (buttons.length === 0) throw new RangeError('a buttons message needs at least one button');
  const interactive: ButtonsPayload['interactive'] = {
    type: 'button',
    body: { text: requiredText(input.body, LIMITS.buttonsBody, 'buttons body') },
    action: { buttons },
  };
  if (input.header) interactive.header = { type: 'text', text: truncateText(input.header, LIMITS.interactiveHeaderText) };
  if (input.footer) interactive.footer = { text: truncateText(input.footer, LIMITS.interactiveFooter) };
  return { ...base(to, opts), type: 'interactive', interactive };
}

/**
 * A template message (the only kind allowed outside the 24-hour window). `components` are
 * passed through as Meta documents them (header/body/button parameters).
 */
export function templateMessage(
  to: string,
  name: string,
  languageCode: string,
  components?: readonly object[],
): TemplatePayload {
  if (!name) throw new RangeError('template name must not be empty');
  if (!languageCode) throw new RangeError('template language code must not be empty');
  const template: TemplatePayload['template'] = { name, language: { code: languageCode } };
  if (components && components.length > 0) template.components = components;
  return { ...base(to), type: 'template', template };
}

/** React to a message; an empty emoji removes our reaction. */
export function reactionMessage(to: string, wamid: string, emoji: string): ReactionPayload {
  if (!wamid) throw new RangeError('reaction needs the wamid of the message');
  return { ...base(to), type: 'reaction', reaction: { message_id: wamid, emoji } };
}
