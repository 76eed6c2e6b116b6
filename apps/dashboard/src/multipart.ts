/**
 * A small multipart/form-data parser for the one upload the dashboard takes (an FAQ CSV of
 * at most a couple of megabytes): fields become strings, a file field becomes its text and
 * `<name>__filename`. Enough for forms posted by browsers; not a general implementation.
 */
export function parseMultipart(body: Buffer, contentType: string): Record<string, string> {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw Object.assign(new Error('multipart body without boundary'), { statusCode: 400 });
  const delimiter = Buffer.from(`--${boundary}`);
  const out: Record<string, string> = {};
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    let start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    if (body.subarray(start, start + 2).toString() === '\r\n') start += 2;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start, next - 2); // drop the CRLF before the delimiter
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const content = part.subarray(headerEnd + 4).toString('utf8');
      const name = /name="([^"]*)"/i.exec(headers)?.[1];
      const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
      if (name !== undefined) {
        out[name] = content;
        if (filename !== undefined) out[`${name}__filename`] = filename;
      }
    }
    pos = next;
  }
  return out;
}
