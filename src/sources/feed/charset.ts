import iconv from 'iconv-lite';

/**
 * Decodes a feed's bytes: a BOM wins, then the encoding named in the XML prolog, then the Content-Type charset,
 * then UTF-8. Invalid byte sequences become U+FFFD rather than an error.
 */
export function decodeFeedBytes(body: Buffer | string, contentType?: string): { text: string; encoding: string } {
  if (typeof body === 'string') return { text: body.replace(/^\uFEFF/, ''), encoding: 'utf-16' };
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return { text: body.subarray(3).toString('utf8'), encoding: 'utf-8' };
  if (body.length >= 2 && body[0] === 0xff && body[1] === 0xfe) return { text: iconv.decode(body.subarray(2), 'utf-16le'), encoding: 'utf-16le' };
  if (body.length >= 2 && body[0] === 0xfe && body[1] === 0xff) return { text: iconv.decode(body.subarray(2), 'utf-16be'), encoding: 'utf-16be' };
  // UTF-16 without a BOM: "<\0?\0" or "\0<\0?".
  if (body.length >= 4 && body[0] === 0x3c && body[1] === 0 && body[2] === 0x3f && body[3] === 0) return { text: iconv.decode(body, 'utf-16le'), encoding: 'utf-16le' };
  if (body.length >= 4 && body[0] === 0 && body[1] === 0x3c && body[2] === 0 && body[3] === 0x3f) return { text: iconv.decode(body, 'utf-16be'), encoding: 'utf-16be' };

  const head = body.subarray(0, 512).toString('latin1');
  const declared = /^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/i.exec(head)?.[1];
  const fromHeader = contentType ? /charset\s*=\s*["']?([A-Za-z0-9._:-]+)/i.exec(contentType)?.[1] : undefined;
  for (const candidate of [declared, fromHeader]) {
    const encoding = normaliseEncoding(candidate);
    if (encoding && encoding !== 'utf-8' && iconv.encodingExists(encoding)) return { text: iconv.decode(body, encoding), encoding };
    if (encoding === 'utf-8') break;
  }
  return { text: body.toString('utf8'), encoding: 'utf-8' };
}

function normaliseEncoding(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const lower = name.toLowerCase();
  if (lower === 'utf8' || lower === 'utf-8' || lower === 'us-ascii' || lower === 'ascii') return 'utf-8';
  // GB2312 and GBK pages routinely contain GB18030-only characters; the superset decodes them all.
  if (lower === 'gb2312' || lower === 'gbk' || lower === 'x-gbk' || lower === 'cp936') return 'gb18030';
  // ISO-8859-1 labelled pages are Windows-1252 in practice (the WHATWG encoding standard says so too).
  if (lower === 'iso-8859-1' || lower === 'latin1' || lower === 'latin-1') return 'windows-1252';
  if (lower === 'shift-jis' || lower === 'sjis' || lower === 'x-sjis') return 'shift_jis';
  return lower;
}

/** True when the bytes look like binary data rather than text (NULs or many control bytes near the start). */
export function looksBinary(body: Buffer | string): boolean {
  if (typeof body === 'string') return false;
  const sample = body.subarray(0, 1024);
  if (sample.length >= 2 && ((sample[0] === 0xff && sample[1] === 0xfe) || (sample[0] === 0xfe && sample[1] === 0xff))) return false;
  if (sample.length >= 4 && (sample[1] === 0 || sample[0] === 0) && (sample[0] === 0x3c || sample[1] === 0x3c)) return false;
  let control = 0;
  for (const byte of sample) {
    if (byte === 0) return true;
    if (byte < 9 || (byte > 13 && byte < 32)) control++;
  }
  return control > sample.length * 0.1;
}
