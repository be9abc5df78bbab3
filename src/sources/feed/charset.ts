import { isAscii, isUtf8, transcode } from 'node:buffer';
import iconv from 'iconv-lite';

/**
 * Decodes a feed's bytes to text. Order: a byte-order mark; UTF-16/32 recognised from "<?xml" bytes; the encoding in
 * the XML declaration; the Content-Type charset; UTF-8. Publishers get the declaration right more often than their
 * web servers get the header right, so the declaration wins — unless it claims UTF-8 and the bytes are not UTF-8,
 * which is the classic misconfiguration, and then the header (or Windows-1252) is tried. Bytes that are valid UTF-8
 * beyond ASCII are read as UTF-8 whatever a label says; unlabelled bytes that are not are tried as Windows-1252,
 * GB18030 and Shift_JIS by their shape. Never throws: undecodable bytes become U+FFFD.
 */
export interface DecodedFeed {
  text: string;
  /** The encoding used, for logs and tests ("utf-8", "gb18030", ...). */
  encoding: string;
}


export function decodeFeedBytes(body: Buffer | string, contentType?: string): DecodedFeed {
  if (typeof body === 'string') return { text: body.charCodeAt(0) === 0xfeff ? body.slice(1) : body, encoding: 'utf-16' };
  const sniffed = sniffUnicode(body);
  if (sniffed) return { text: iconv.decode(body.subarray(sniffed.skip), sniffed.encoding, { stripBOM: true }), encoding: sniffed.encoding };

  const declared = labelToEncoding(declaredLabel(body));
  const fromHeader = labelToEncoding(contentType ? /charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)/i.exec(contentType)?.[1] : undefined);
  const first = declared ?? fromHeader;
  if (first && first !== 'utf-8') {
    // Bytes that are valid UTF-8 and use it (some multi-byte sequence) are UTF-8, whatever the label: text in a
    // single-byte or CJK encoding is practically never valid UTF-8 beyond a few characters, while servers and
    // templates that label UTF-8 output "ISO-8859-1" or "GBK" are common.
    if (!isAscii(body) && isUtf8(body)) return { text: utf8Text(body), encoding: 'utf-8' };
    return { text: iconv.decode(body, first), encoding: first };
  }
  if (isUtf8(body)) return { text: utf8Text(body), encoding: 'utf-8' };
  // Declared (or assumed) UTF-8 but the bytes are not.
  if (fromHeader && fromHeader !== 'utf-8') return { text: iconv.decode(body, fromHeader), encoding: fromHeader };
  const text = body.toString('utf8');
  // No valid multi-byte sequence at all: a single-byte page mislabelled as UTF-8, almost always Windows-1252.
  if (!/[^\u0000-\u007f\ufffd]/.test(text)) return { text: iconv.decode(body, 'windows-1252'), encoding: 'windows-1252' };
  return unlabelledCjk(body) ?? { text, encoding: 'utf-8' };
}

/** Characters of Chinese or Japanese text: ideographs, kana, CJK and full-width punctuation, general punctuation. */
const CJK_TEXT = /^[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60\u2010-\u2027\u2030-\u205e\u00a0-\u00bf\u00d7\u00f7]*$/;
const KANA = /[\u3040-\u30ff]/;

/**
 * A Chinese (GB2312/GBK) or Japanese (Shift_JIS) document with no usable label, recognised by its bytes; undefined
 * when neither fits. GB2312 text is pairs of bytes both in 0xA1-0xFE; Latin-1 text that decodes as GBK ("ü" and the
 * letter after it) makes pairs with a low second byte, so nine in ten pairs must be such. Shift_JIS must decode
 * to Japanese characters only (no error, no half-width katakana, which Latin-1's capitals would be) and hold kana or
 * mostly pairs led by 0x81-0x9F (kana and the common kanji; Latin-1's accented small letters lead 0xE0-0xFF). EUC-KR
 * has the pairs of GB2312 and reads as Chinese: it is garbled either way, as it was before.
 */
function unlabelledCjk(body: Buffer): DecodedFeed | undefined {
  let pairs = 0;
  let gbPairs = 0;
  let jisCommon = 0;
  for (let i = 0; i < body.length; i++) {
    if (body[i] < 0x80) continue;
    pairs++;
    if (body[i] >= 0xa1 && body[i] <= 0xfe && body[i + 1] >= 0xa1 && body[i + 1] <= 0xfe) gbPairs++;
    if (body[i] <= 0x9f) jisCommon++;
    i++;
  }
  if (pairs < 2) return undefined;
  if (gbPairs >= pairs * 0.9) {
    const text = iconv.decode(body, 'gb18030');
    if (isCjkText(text)) return { text, encoding: 'gb18030' };
  }
  const text = iconv.decode(body, 'shift_jis');
  if (isCjkText(text) && (KANA.test(text) || jisCommon >= pairs / 2)) return { text, encoding: 'shift_jis' };
  return undefined;
}

function isCjkText(text: string): boolean {
  return CJK_TEXT.test(text.replace(/[\u0000-\u007f]+/g, ''));
}

const DECLARATION = /^\s*<\?xml[^>]*?encoding\s*=\s*["']?\s*([A-Za-z0-9._:-]+)/i;

/** The encoding an XML declaration names. Only a document that starts with "<?" can have one: most start otherwise. */
function declaredLabel(body: Buffer): string | undefined {
  const end = Math.min(body.length, 256);
  let i = 0;
  // What \s matches among Latin-1 characters.
  while (i < end && ((body[i] >= 0x09 && body[i] <= 0x0d) || body[i] === 0x20 || body[i] === 0xa0)) i++;
  if (body[i] !== 0x3c || body[i + 1] !== 0x3f) return undefined;
  return DECLARATION.exec(body.toString('latin1', 0, end))?.[1];
}

/**
 * Valid UTF-8 as a string. Node 20's own UTF-8 decoder manages about a byte a nanosecond, a tenth of a feed's whole
 * parse; ASCII decodes as Latin-1 (a copy), and ICU's transcoder plus a UTF-16 copy is three times faster for the rest.
 * Both give exactly the same string for valid UTF-8; tiny documents skip the transcoder's fixed cost.
 */
function utf8Text(body: Buffer): string {
  if (isAscii(body)) return body.toString('latin1');
  if (body.length < 4_096) return body.toString('utf8');
  return transcode(body, 'utf8', 'utf16le').toString('utf16le');
}

/** The encoding a byte-order mark names, and the mark's length; it wins over any label, in a feed or a page. */
export function byteOrderMark(b: Buffer): { encoding: string; skip: number } | undefined {
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return { encoding: 'utf-8', skip: 3 };
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) return { encoding: 'utf-32le', skip: 4 };
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) return { encoding: 'utf-32be', skip: 4 };
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return { encoding: 'utf-16le', skip: 2 };
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return { encoding: 'utf-16be', skip: 2 };
  return undefined;
}

/** A byte-order mark, or "<?" written in UTF-16/UTF-32 without one. */
function sniffUnicode(b: Buffer): { encoding: string; skip: number } | undefined {
  const bom = byteOrderMark(b);
  if (bom) return bom;
  if (b.length >= 4 && b[0] === 0x3c && b[1] === 0 && b[2] === 0 && b[3] === 0) return { encoding: 'utf-32le', skip: 0 };
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0x3c) return { encoding: 'utf-32be', skip: 0 };
  if (b.length >= 4 && b[0] === 0x3c && b[1] === 0 && b[2] !== 0 && b[3] === 0) return { encoding: 'utf-16le', skip: 0 };
  if (b.length >= 4 && b[0] === 0 && b[1] === 0x3c && b[2] === 0 && b[3] !== 0) return { encoding: 'utf-16be', skip: 0 };
  return undefined;
}

/** A charset label as iconv-lite should read it; undefined for labels it does not know. */
export function labelToEncoding(label: string | undefined): string | undefined {
  if (!label) return undefined;
  const name = label.toLowerCase().replace(/^x-/, '');
  if (name === 'utf8' || name === 'utf-8' || name === 'us-ascii' || name === 'ascii' || name === 'ansi_x3.4-1968') return 'utf-8';
  // GB2312 and GBK pages routinely contain characters only GB18030 defines; the superset decodes all three.
  if (name === 'gb2312' || name === 'gbk' || name === 'cp936' || name === 'euc-cn' || name === 'gb_2312-80') return 'gb18030';
  // ISO-8859-1 labelled pages are Windows-1252 in practice (curly quotes at 0x91-0x94); WHATWG decodes them so too.
  if (name === 'iso-8859-1' || name === 'latin1' || name === 'latin-1' || name === 'iso8859-1' || name === 'l1') return 'windows-1252';
  if (name === 'shift-jis' || name === 'sjis' || name === 'shift_jis' || name === 'ms_kanji' || name === 'windows-31j') return 'shift_jis';
  if (name === 'utf-16' || name === 'utf-32') return undefined; // without a BOM these were sniffed above, or are wrong
  return iconv.encodingExists(name) ? name : undefined;
}

const CONTROL_BYTE = /[\u0000-\u0008\u000e-\u001f\u007f]/;

/**
 * What kind of binary data this is, when it is not text at all: known file signatures, NUL bytes (outside UTF-16/32)
 * or a high share of control bytes near the start. Undefined for text.
 */
export function binaryKind(body: Buffer | string): string | undefined {
  if (typeof body === 'string' || body.length === 0) return undefined;
  if (sniffUnicode(body)) return undefined;
  const b = body;
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip-compressed data (the response was not decompressed)';
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd-compressed data';
  if (b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04) return 'a ZIP archive';
  if (b[0] === 0x25 && b[1] === 0x50 && b[2] === 0x44 && b[3] === 0x46) return 'a PDF document';
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'a PNG image';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'a JPEG image';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return 'a GIF image';
  const end = Math.min(b.length, 512);
  // Text rarely has any such byte: one native scan settles most documents without a loop over every byte.
  if (!CONTROL_BYTE.test(b.toString('latin1', 0, end))) return undefined;
  let control = 0;
  for (let i = 0; i < end; i++) {
    const byte = b[i];
    if (byte === 0) return 'binary data (it contains NUL bytes)';
    if (byte < 9 || (byte > 13 && byte < 32) || byte === 127) control++;
  }
  return control > end * 0.05 ? 'binary data (mostly control bytes)' : undefined;
}
