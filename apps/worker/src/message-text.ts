/**
 * What a customer's message says, as text the reply logic can match on. Interactive taps
 * answer with their title, quick-reply buttons with their text, media with their caption.
 * `needsAck`: a message with nothing to read (a photo without caption, a voice note, a sticker,
 * a type we do not support…) gets an acknowledgement (conversation/media.ts); a voice note may
 * be transcribed first. `replyable` false: reactions, system notices and the like get no reply.
 */
export interface MessageText {
  type: string;
  text: string | null;
  replyable: boolean;
  needsAck: boolean;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

export function messageText(message: Record<string, unknown>): MessageText {
  const type = typeof message['type'] === 'string' ? message['type'] : 'unknown';
  switch (type) {
    case 'text':
      return { type, text: str(obj(message['text'])['body']), replyable: true, needsAck: false };
    case 'interactive': {
      const i = obj(message['interactive']);
      const reply = obj(i['list_reply'] ?? i['button_reply']);
      const nfm = obj(i['nfm_reply']);
      const text = str(reply['title']) ?? str(nfm['body']);
      return { type, text, replyable: true, needsAck: text === null };
    }
    case 'button':
      return { type, text: str(obj(message['button'])['text']) ?? str(obj(message['button'])['payload']), replyable: true, needsAck: false };
    case 'image':
    case 'video':
    case 'document': {
      const caption = str(obj(message[type])['caption']);
      return { type, text: caption, replyable: true, needsAck: caption === null };
    }
    case 'audio':
    case 'location':
    case 'contacts':
    case 'order':
    case 'sticker':
      return { type, text: null, replyable: true, needsAck: true };
    case 'reaction':
    case 'system':
    case 'request_welcome':
    case 'ephemeral':
    case 'errors':
      // nothing to answer: a reaction, a number change notice, a welcome request…
      return { type, text: null, replyable: false, needsAck: false };
    default:
      // 'unsupported' and types this code does not know yet: a polite "please write" (never silence)
      return { type, text: null, replyable: true, needsAck: true };
  }
}

/** The media id of an audio / voice-note message (to download and transcribe it). */
export function audioMedia(message: Record<string, unknown>): { id: string; mimeType: string; voice: boolean } | null {
  if (message['type'] !== 'audio') return null;
  const a = obj(message['audio']);
  const id = str(a['id']);
  if (!id) return null;
  return { id, mimeType: str(a['mime_type']) ?? 'audio/ogg', voice: a['voice'] === true };
}

/**
 * The id of what the customer tapped: a list row (`interactive.list_reply.id`), a reply button
 * (`interactive.button_reply.id`) or a template's quick-reply button (`button.payload`); null
 * for anything else. Catalog lists use `product:<uuid>` (tenant-core parseProductRowId).
 */
export function interactiveReplyId(message: Record<string, unknown>): string | null {
  if (message['type'] === 'interactive') {
    const i = obj(message['interactive']);
    return str(obj(i['list_reply'])['id']) ?? str(obj(i['button_reply'])['id']);
  }
  if (message['type'] === 'button') return str(obj(message['button'])['payload']);
  return null;
}
