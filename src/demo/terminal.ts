/**
 * Draws what the receivers got the way the person on the other end would see it: a Slack message with its header,
 * context lines, text, two-column fields and links; a line per email caught and per webhook received. Pure: payload
 * in, text out, with ANSI colours only when asked (a TTY).
 */

export interface Style {
  color: boolean;
  /** Columns available; messages wrap their text to it. */
  width: number;
}

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', italic: '\x1b[3m', underline: '\x1b[4m', red: '\x1b[31m', yellow: '\x1b[33m', blue: '\x1b[34m', magenta: '\x1b[35m', cyan: '\x1b[36m', grey: '\x1b[90m' };
type Tone = keyof typeof ANSI;

function paint(style: Style, text: string, ...tones: Tone[]): string {
  return style.color && tones.length ? `${tones.map((t) => ANSI[t]).join('')}${text}${ANSI.reset}` : text;
}

/** Colour of a level word as it appears in a header ("CRITICAL: ..."). */
export function levelTone(text: string): Tone[] {
  if (/\bCRITICAL\b/.test(text)) return ['bold', 'red'];
  if (/\bHIGH\b/.test(text)) return ['bold', 'magenta'];
  if (/\bMEDIUM\b/.test(text)) return ['bold', 'yellow'];
  if (/\bLOW\b/.test(text)) return ['bold', 'blue'];
  return ['bold'];
}

const unescape = (text: string) => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/**
 * Slack mrkdwn to terminal text: <url|label> becomes "label (url)", *bold* and _italic_ become ANSI (or plain text),
 * and the three escaped entities are restored.
 */
export function mrkdwnToTerminal(text: string, style: Style): string {
  const links: string[] = [];
  let out = text.replace(/<([^<>|]+)\|([^<>]*)>|<([^<>|]+)>/g, (_m, url: string | undefined, label: string | undefined, bare: string | undefined) => {
    const target = unescape(url ?? bare ?? '');
    const shown = label !== undefined ? `${paint(style, unescape(label), 'underline')} ${paint(style, `(${target})`, 'grey')}` : paint(style, target, 'underline');
    links.push(shown);
    return `\u0000${links.length - 1}\u0000`;
  });
  out = out
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=[\s).,:;!?]|$)/g, (_m, pre: string, inner: string) => `${pre}${paint(style, inner, 'bold')}`)
    .replace(/(^|[\s(])_([^_\n]+)_(?=[\s).,:;!?]|$)/g, (_m, pre: string, inner: string) => `${pre}${paint(style, inner, 'italic')}`);
  out = unescape(out);
  return out.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => links[Number(i)]);
}

const visibleLength = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').length;

/** Word-wraps one paragraph to the width (ANSI codes do not count), indenting continuation lines. */
export function wrap(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line && visibleLength(line) + 1 + visibleLength(word) > width) {
        lines.push(line);
        line = indent + word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}

interface SlackText {
  type: string;
  text: string;
}
interface SlackBlockLike {
  type: string;
  text?: SlackText;
  fields?: SlackText[];
  elements?: SlackText[];
}

/** A Slack incoming-webhook message as the channel would show it, under a one-line channel header. */
export function formatSlackMessage(payload: { text?: string; blocks?: SlackBlockLike[] }, channel: string, at: Date, style: Style): string {
  const width = Math.max(40, style.width - 4);
  const bar = paint(style, '│', 'grey');
  const lines: string[] = [];
  const push = (text: string, indent = '') => wrap(text, width, indent).forEach((l) => lines.push(`${bar} ${l}`));
  const blocks = payload.blocks ?? [];
  if (blocks.length === 0 && payload.text) push(mrkdwnToTerminal(payload.text, style));
  for (const block of blocks) {
    if (block.type === 'header' && block.text) push(paint(style, block.text.text, ...levelTone(block.text.text)));
    else if (block.type === 'divider') lines.push(`${bar} ${paint(style, '─'.repeat(Math.min(width, 40)), 'grey')}`);
    else if (block.type === 'context') push(paint(style, (block.elements ?? []).map((e) => mrkdwnToTerminal(e.text, { ...style, color: false })).join('  '), 'dim'));
    else if (block.type === 'section') {
      if (block.text) push(mrkdwnToTerminal(block.text.text, style));
      const fields = block.fields ?? [];
      const column = Math.floor(width / 2);
      for (let i = 0; i < fields.length; i += 2) {
        const [left, right] = [fields[i], fields[i + 1]].map((f) => (f ? mrkdwnToTerminal(f.text, style).split('\n') : []));
        for (let row = 0; row < Math.max(left.length, right.length); row++) {
          const l = left[row] ?? '';
          const cell = visibleLength(l) >= column ? `${l} ` : l + ' '.repeat(column - visibleLength(l));
          lines.push(`${bar} ${cell}${right[row] ?? ''}`.trimEnd());
        }
      }
    }
  }
  const time = at.toISOString().slice(11, 19);
  const title = `${paint(style, '┌', 'grey')} ${paint(style, `Slack ${channel}`, 'bold', 'cyan')} ${paint(style, `· ${time}`, 'grey')}`;
  return [title, ...lines, paint(style, '└', 'grey'), ''].join('\n');
}

/** One line per email caught: recipients, subject and whether it threads under an earlier one. */
export function formatEmailNote(mail: { to: string; subject: string; inReplyTo?: string }, style: Style): string {
  const thread = mail.inReplyTo ? paint(style, ' (reply in the thread of the first alert)', 'grey') : '';
  return `${paint(style, '✉ email', 'bold', 'cyan')} to ${mail.to}: ${paint(style, mail.subject, ...levelTone(mail.subject))}${thread}\n`;
}

/** One line per webhook received: level, watchlist, title and whether its signature checked out. */
export function formatWebhookNote(note: { level: string; watchlist: string; title: string; reason: string; signatureValid: boolean }, style: Style): string {
  const signature = note.signatureValid ? paint(style, 'signature ok', 'grey') : paint(style, 'BAD SIGNATURE', 'bold', 'red');
  return `${paint(style, '↪ webhook', 'bold', 'cyan')} ${paint(style, note.level.toUpperCase(), ...levelTone(note.level.toUpperCase()))} ${note.watchlist}: ${note.title} ${paint(style, `(${note.reason}, ${signature})`, 'grey')}\n`;
}
