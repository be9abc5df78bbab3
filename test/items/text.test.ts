import { describe, expect, it } from 'vitest';
import { clip, decodeEntities, foldText, htmlToText } from '../../src/items/text.js';

describe('htmlToText', () => {
  it('drops tags, scripts, styles and comments and keeps the text', () => {
    const html = '<div><script>alert("x")</script><style>p{color:red}</style><!-- c --><p>Export <b>ban</b> on gallium</p></div>';
    expect(htmlToText(html)).toBe('Export ban on gallium');
  });

  it('separates words at block elements but not at inline ones', () => {
    expect(htmlToText('<p>first</p><p>second</p>line<br>break')).toBe('first second line break');
    expect(htmlToText('<b>Hel</b>lo')).toBe('Hello');
  });

  it('decodes named, decimal and hex character references', () => {
    expect(htmlToText('AT&amp;T &hellip; caf&eacute; &#8217;s &#x4e2d;&#22269; &nbsp;x')).toBe('AT&T … café ’s 中国 x');
  });

  it('reads the Windows-1252 meaning of &#128;-&#159; as browsers do', () => {
    expect(htmlToText('&#147;quoted&#148; &#128;5')).toBe('“quoted” €5');
  });

  it('keeps an unknown entity and a lone ampersand as written', () => {
    expect(htmlToText('R&D &foo; a & b')).toBe('R&D &foo; a & b');
  });

  it('keeps a less-than sign that is not markup', () => {
    expect(htmlToText('1 < 2 and 3<4')).toBe('1 < 2 and 3<4');
  });

  it('strips double-escaped markup', () => {
    expect(htmlToText('&lt;p&gt;Rare earths &amp;amp; magnets&lt;/p&gt;')).toBe('Rare earths & magnets');
  });

  it('ignores a > inside a quoted attribute value', () => {
    expect(htmlToText('<a title="a > b" href="x">link</a> text')).toBe('link text');
  });

  it('drops a tag cut off at the end of the text', () => {
    expect(htmlToText('Story <a href="http://exa')).toBe('Story');
  });

  it('folds whitespace, including non-breaking spaces, and drops control characters', () => {
    expect(htmlToText('  a\n\t b\u00a0\u00a0c\u0007 ')).toBe('a b c');
  });

  // Linear, not quadratic: a quadratic scan of this megabyte would run for hours and hit the timeout.
  it('cleans a 1 MB string of unclosed tags, quotes and comments', { timeout: 10_000 }, () => {
    const hostile = '<a title="'.repeat(50_000) + '&amp;'.repeat(50_000) + '<!--'.repeat(50_000);
    expect(htmlToText(`text ${hostile}`)).toBe('text');
  });
});

describe('foldText', () => {
  it('restores Windows-1252 characters that went through a Latin-1 decoder', () => {
    expect(foldText('don\u0092t')).toBe('don’t');
  });

  it('returns an empty string for nothing', () => {
    expect(foldText(undefined)).toBe('');
  });
});

describe('decodeEntities', () => {
  it('replaces invalid code points with U+FFFD', () => {
    expect(decodeEntities('&#0;&#xD800;&#x110000;')).toBe('\uFFFD\uFFFD\uFFFD');
  });

  it('leaves what is not a complete reference as written', () => {
    expect(decodeEntities('&&amp; &#; &#x; &#123456789; &a; &LT; &Lt;')).toBe('&& &#; &#x; &#123456789; &a; < <');
    expect(decodeEntities(`&${'a'.repeat(32)}; &lt`)).toBe(`&${'a'.repeat(32)}; &lt`);
  });
});

describe('clip', () => {
  it('cuts at a nearby word boundary with an ellipsis', () => {
    expect(clip('alpha beta gamma delta', 19)).toBe('alpha beta gamma…');
    expect(clip('short', 19)).toBe('short');
  });

  it('never splits a surrogate pair', () => {
    const text = `${'a'.repeat(8)}😀😀😀`;
    const clipped = clip(text, 10);
    expect(clipped.length).toBeLessThanOrEqual(10);
    expect(clipped).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });
});
