/** HTML to clean plain text, without a DOM: fast on the hot path, correct for what feeds carry. */

const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ensp: ' ', emsp: ' ', thinsp: ' ',
  ndash: '–', mdash: '—', hellip: '…', lsquo: '‘', rsquo: '’', sbquo: '‚', ldquo: '“', rdquo: '”', bdquo: '„',
  laquo: '«', raquo: '»', bull: '•', middot: '·', copy: '©', reg: '®', trade: '™', deg: '°', plusmn: '±',
  times: '×', divide: '÷', frac12: '½', frac14: '¼', frac34: '¾', euro: '€', pound: '£', yen: '¥', cent: '¢',
  sect: '§', para: '¶', dagger: '†', prime: '′', shy: '', zwj: '', zwnj: '', lrm: '', rlm: '',
  iexcl: '¡', iquest: '¿', ordf: 'ª', ordm: 'º', micro: 'µ', sup2: '²', sup3: '³',
  agrave: 'à', aacute: 'á', acirc: 'â', atilde: 'ã', auml: 'ä', aring: 'å', aelig: 'æ', ccedil: 'ç',
  egrave: 'è', eacute: 'é', ecirc: 'ê', euml: 'ë', igrave: 'ì', iacute: 'í', icirc: 'î', iuml: 'ï',
  ntilde: 'ñ', ograve: 'ò', oacute: 'ó', ocirc: 'ô', otilde: 'õ', ouml: 'ö', oslash: 'ø', ugrave: 'ù',
  uacute: 'ú', ucirc: 'û', uuml: 'ü', yacute: 'ý', yuml: 'ÿ', szlig: 'ß', eth: 'ð', thorn: 'þ',
  Agrave: 'À', Aacute: 'Á', Acirc: 'Â', Atilde: 'Ã', Auml: 'Ä', Aring: 'Å', AElig: 'Æ', Ccedil: 'Ç',
  Egrave: 'È', Eacute: 'É', Ecirc: 'Ê', Euml: 'Ë', Igrave: 'Ì', Iacute: 'Í', Icirc: 'Î', Iuml: 'Ï',
  Ntilde: 'Ñ', Ograve: 'Ò', Oacute: 'Ó', Ocirc: 'Ô', Otilde: 'Õ', Ouml: 'Ö', Oslash: 'Ø', Ugrave: 'Ù',
  Uacute: 'Ú', Ucirc: 'Û', Uuml: 'Ü', Yacute: 'Ý', oelig: 'œ', OElig: 'Œ', scaron: 'š', Scaron: 'Š',
};

const ENTITY = /&(#[xX][0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z][a-zA-Z0-9]{1,31});/g;

/** Decodes HTML character references (named, decimal, hex); unknown names stay as written. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      if (!Number.isFinite(code) || code <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\uFFFD';
      return String.fromCodePoint(code);
    }
    return NAMED[body] ?? NAMED[body.toLowerCase()] ?? whole;
  });
}

const DROP_BLOCKS = /<(script|style|noscript|template|iframe|object|svg|head)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const COMMENTS = /<!--[\s\S]*?(-->|$)/g;
const CDATA = /<!\[CDATA\[([\s\S]*?)(\]\]>|$)/g;
const BREAKS = /<\/?(p|div|br|li|ul|ol|tr|td|th|h[1-6]|blockquote|section|article|header|footer|table|hr|pre|dd|dt|figcaption)\b[^>]*>/gi;
const TAGS = /<\/?[a-zA-Z][^>]*>|<![^>]*>|<\?[^>]*\?>/g;
const SPACE = /[\s\u00a0\u200b\ufeff]+/g;
// Control characters other than tab/newline make no sense in a title and break some receivers.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/** Scripts, styles and tags dropped, entities decoded, whitespace folded into single spaces. */
export function htmlToText(html: string | undefined | null): string {
  if (!html) return '';
  let text = String(html);
  if (text.includes('<')) {
    text = text.replace(CDATA, '$1').replace(COMMENTS, ' ').replace(DROP_BLOCKS, ' ').replace(BREAKS, ' ').replace(TAGS, '');
    // A document cut inside a tag leaves "<a href=..." at the end.
    text = text.replace(/<[a-zA-Z\/][^>]*$/, '');
  }
  text = decodeEntities(text);
  // Entities can encode markup ("&lt;b&gt;") that publishers meant as markup: strip once more.
  if (/<\/?[a-zA-Z][^>]*>/.test(text)) text = text.replace(DROP_BLOCKS, ' ').replace(TAGS, ' ');
  return text.replace(CONTROL, '').replace(SPACE, ' ').trim();
}

/** Cuts text to at most max characters on a word boundary, with an ellipsis. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > max * 0.8 ? cut.slice(0, space) : cut}…`;
}
