/**
 * What a customer's message says, as text the reply logic can match on. Interactive taps
 * answer with their title, quick-reply buttons with their text, media with their caption.
 * `needsAck`: a message with nothing to read (a photo without caption, a voice note…) gets a
 * short acknowledgement until media handling lands (issue 6). `replyable` false: reactions,
 * system notices and the like get no reply at all.
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
      return { type, text: null, replyable: true, needsAck: true };
    default:
      // reaction, sticker, system, unsupported, request_welcome, ephemeral…
      return { type, text: null, replyable: false, needsAck: false };
  }
}
