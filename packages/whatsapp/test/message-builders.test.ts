import { describe, expect, it } from 'vitest';
import {
  codePointLength,
  imageMessage,
  interactiveButtonsMessage,
  interactiveListMessage,
  LIMITS,
  reactionMessage,
  templateMessage,
  textMessage,
  truncateText,
} from '../src/index.ts';

/** No lone surrogates anywhere (a cut in the middle of an emoji would leave one). */
function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

describe('truncateText', () => {
  it('leaves text within the limit alone, counting code points not UTF-16 units', () => {
    const emoji = '🎸'.repeat(24); // 48 UTF-16 units, 24 code points
    expect(emoji.length).toBe(48);
    expect(truncateText(emoji, 24)).toBe(emoji);
  });

  it('cuts to the limit with an ellipsis, on a grapheme boundary', () => {
    const out = truncateText('🎸'.repeat(30), 24);
    expect(codePointLength(out)).toBe(24);
    expect(out).toBe(`${'🎸'.repeat(23)}…`);
    expect(isWellFormed(out)).toBe(true);
  });

  it('never splits a ZWJ family or a flag', () => {
    const family = '👨‍👩‍👧‍👦'; // 7 code points
    const s = `ab${family}${family}`;
    const out = truncateText(s, 10);
    expect(codePointLength(out)).toBeLessThanOrEqual(10);
    expect(out).toBe(`ab${family}…`);
    const flags = '🇰🇪🇰🇪🇰🇪'; // 6 code points, 3 flags
    expect(truncateText(flags, 4)).toBe('🇰🇪…');
  });

  it('trims the space before the ellipsis', () => {
    expect(truncateText('Yamaha C40 Classical Guitar', 12)).toBe('Yamaha C40…');
  });
});

describe('textMessage', () => {
  it('builds the Graph payload', () => {
    expect(textMessage('254712345678', 'Karibu!', { replyToWamid: 'wamid.IN', previewUrl: false })).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '254712345678',
      context: { message_id: 'wamid.IN' },
      type: 'text',
      text: { body: 'Karibu!', preview_url: false },
    });
  });

  it('truncates the body to 4096 code points without breaking emoji', () => {
    const body = 'a' + '😀'.repeat(5000);
    const out = textMessage('254712345678', body).text.body;
    expect(codePointLength(out)).toBe(LIMITS.textBody);
    expect(out.endsWith('…')).toBe(true);
    expect(isWellFormed(out)).toBe(true);
  });

  it('addresses a business-scoped user id through `recipient`', () => {
    const p = textMessage('US.13491208655302741918', 'hi');
    expect(p.recipient).toBe('US.13491208655302741918');
    expect(p).not.toHaveProperty('to');
    expect(textMessage('US.ENT.11815799212886844830', 'hi').recipient).toBe('US.ENT.11815799212886844830');
  });

  it('rejects an empty body or recipient', () => {
    expect(() => textMessage('254712345678', '   ')).toThrow(RangeError);
    expect(() => textMessage('', 'hi')).toThrow(RangeError);
  });
});

describe('imageMessage', () => {
  it('caps the caption at 1024 code points', () => {
    const p = imageMessage('254712345678', { link: 'https://cdn.example/a.jpg', caption: 'ü'.repeat(2000) });
    expect(p.image.link).toBe('https://cdn.example/a.jpg');
    expect(codePointLength(p.image.caption ?? '')).toBe(1024);
    expect(() => imageMessage('254712345678', {})).toThrow(RangeError);
  });
});

describe('interactiveListMessage', () => {
  const longTitle = '🎸 Yamaha C40 Classical Guitar — full size';
  const rows = Array.from({ length: 14 }, (_, i) => ({
    id: `product:${i}`,
    title: `${longTitle} #${i}`,
    description: `${'Ñandú '.repeat(20)}🎶`,
  }));

  it("enforces Meta's list limits with multibyte text", () => {
    const p = interactiveListMessage('254712345678', {
      header: 'Kassangas Music Shop — instruments & accessories 🎹🎺🎻🥁',
      body: 'Here is what we have in stock:',
      footer: 'Prices in KSh, VAT incl. — delivery across Kenya 🇰🇪🇰🇪',
      button: '🛒 See all the instruments',
      sections: [
        { title: '🎸 Guitars and other string instruments', rows: rows.slice(0, 7) },
        { title: 'Keyboards', rows: rows.slice(7) },
      ],
    });
    const { interactive } = p;
    const allRows = interactive.action.sections.flatMap((s) => s.rows);
    expect(allRows).toHaveLength(10);
    expect(allRows.map((r) => r.id)).toEqual(rows.slice(0, 10).map((r) => r.id));
    for (const r of allRows) {
      expect(codePointLength(r.title)).toBeLessThanOrEqual(24);
      expect(codePointLength(r.description ?? '')).toBeLessThanOrEqual(72);
      expect(r.title.endsWith('…')).toBe(true);
      expect(isWellFormed(r.title)).toBe(true);
      expect(isWellFormed(r.description ?? '')).toBe(true);
    }
    for (const s of interactive.action.sections) expect(codePointLength(s.title ?? '')).toBeLessThanOrEqual(24);
    expect(codePointLength(interactive.action.button)).toBeLessThanOrEqual(20);
    expect(codePointLength(interactive.header?.text ?? '')).toBeLessThanOrEqual(60);
    expect(codePointLength(interactive.footer?.text ?? '')).toBeLessThanOrEqual(60);
    expect(isWellFormed(JSON.stringify(p))).toBe(true);
    expect(p.type).toBe('interactive');
    expect(interactive.type).toBe('list');
  });

  it('keeps short text untouched and drops sections emptied by the row cap', () => {
    const p = interactiveListMessage('254712345678', {
      body: 'Pick one',
      button: 'Options',
      sections: [
        { title: 'A', rows: rows.slice(0, 10).map((r, i) => ({ id: r.id, title: `Item ${i}` })) },
        { title: 'B', rows: [{ id: 'x', title: 'X' }] },
      ],
    });
    expect(p.interactive.action.sections).toHaveLength(1);
    expect(p.interactive.action.sections[0]?.rows[3]).toEqual({ id: 'product:3', title: 'Item 3' });
  });

  it('never cuts ids: too long, empty or duplicate ids throw', () => {
    const make = (id: string, id2 = 'other') =>
      interactiveListMessage('254712345678', {
        body: 'b',
        button: 'b',
        sections: [{ rows: [{ id, title: 't' }, { id: id2, title: 't2' }] }],
      });
    expect(() => make('x'.repeat(201))).toThrow(RangeError);
    expect(make('🎸'.repeat(200)).interactive.action.sections[0]?.rows[0]?.id).toBe('🎸'.repeat(200));
    expect(() => make('')).toThrow(RangeError);
    expect(() => make('same', 'same')).toThrow(RangeError);
  });

  it('needs section titles when there are several sections', () => {
    expect(() =>
      interactiveListMessage('254712345678', {
        body: 'b',
        button: 'b',
        sections: [{ rows: [{ id: '1', title: 'a' }] }, { rows: [{ id: '2', title: 'b' }] }],
      }),
    ).toThrow(RangeError);
  });
});

describe('interactiveButtonsMessage', () => {
  it('keeps at most 3 buttons with titles ≤ 20 code points', () => {
    const p = interactiveButtonsMessage(
      '254712345678',
      {
        body: 'Can I help with anything else?',
        buttons: [
          { id: 'yes', title: '👍 Yes please, tell me more about it' },
          { id: 'no', title: 'No' },
          { id: 'human', title: '🧑‍💼 Talk to a human being now' },
          { id: 'extra', title: 'Extra' },
        ],
      },
      { replyToWamid: 'wamid.IN' },
    );
    const buttons = p.interactive.action.buttons;
    expect(buttons.map((b) => b.reply.id)).toEqual(['yes', 'no', 'human']);
    for (const b of buttons) {
      expect(b.type).toBe('reply');
      expect(codePointLength(b.reply.title)).toBeLessThanOrEqual(20);
      expect(isWellFormed(b.reply.title)).toBe(true);
    }
    expect(buttons[1]?.reply.title).toBe('No');
    expect(p.context).toEqual({ message_id: 'wamid.IN' });
    expect(p.interactive.type).toBe('button');
  });
});

describe('templateMessage and reactionMessage', () => {
  it('template', () => {
    const components = [{ type: 'body', parameters: [{ type: 'text', text: 'Gideon' }] }];
    expect(templateMessage('254712345678', 'order_update', 'en_US', components)).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '254712345678',
      type: 'template',
      template: { name: 'order_update', language: { code: 'en_US' }, components },
    });
    expect(templateMessage('254712345678', 'hello_world', 'en_US').template).not.toHaveProperty('components');
  });

  it('reaction', () => {
    expect(reactionMessage('254712345678', 'wamid.IN', '🙏')).toMatchObject({
      type: 'reaction',
      reaction: { message_id: 'wamid.IN', emoji: '🙏' },
    });
    expect(reactionMessage('254712345678', 'wamid.IN', '').reaction.emoji).toBe('');
  });
});
