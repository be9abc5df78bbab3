/**
 * Where the end tags of a document's entries are, under every name an entry is written with ("item", "Item",
 * "a1:item", ...), found in one pass for the markup-volume check (prolog.ts). Searched for name by name, thousands of
 * never-closed entries each under another prefix (<a1:item>, <a2:item>, ...) each searched the rest of the document:
 * 20,000 of them ahead of 5 MB took 50 s.
 *
 * Answers exactly what text.indexOf(`</${name}`, from) would, for a name that entryNameAt can return: one whose part
 * after its first colon is the entry name in any case, at most MAX_ENTRY_NAME characters long.
 */
export const MAX_ENTRY_NAME = 63;

interface Positions {
  at: number[];
  /** Index in `at` of the first position not yet passed: lookups come in document order. */
  next: number;
}

export class EndTags {
  private readonly byName = new Map<string, Positions>();

  /** Indexes every "</name" from `from` on; `entryName` is lower case ("item", "entry"). */
  constructor(text: string, entryName: string, from: number) {
    const local = entryName.length;
    const first = entryName.charCodeAt(0);
    // What can follow "</" is read only as far as the longest name could reach.
    const colonBy = MAX_ENTRY_NAME - local - 1;
    for (let lt = text.indexOf('</', from); lt >= 0; lt = text.indexOf('</', lt + 2)) {
      const start = lt + 2;
      if (isLocal(text, start, entryName, first)) this.add(text.slice(start, start + local), lt);
      for (let j = start; j < text.length && j - start <= colonBy; j++) {
        const c = text.charCodeAt(j);
        if (c === 0x3a /* : */) {
          if (isLocal(text, j + 1, entryName, first)) this.add(text.slice(start, j + 1 + local), lt);
          break;
        }
        if (endsName(c)) break;
      }
    }
  }

  /** Index of the first "</name" at or after `from`, or -1; `from` never decreases from one call to the next. */
  after(name: string, from: number): number {
    const positions = this.byName.get(name);
    if (positions === undefined) return -1;
    const { at } = positions;
    while (positions.next < at.length && at[positions.next] < from) positions.next++;
    return positions.next < at.length ? at[positions.next] : -1;
  }

  private add(name: string, lt: number): void {
    const positions = this.byName.get(name);
    if (positions === undefined) this.byName.set(name, { at: [lt], next: 0 });
    else positions.at.push(lt);
  }
}

/** Whether text[at...] starts with the entry name in any case (as the check compares names: lower-cased). */
function isLocal(text: string, at: number, entryName: string, first: number): boolean {
  const c = text.charCodeAt(at);
  // Only an ASCII letter or a non-ASCII character can lower-case to the name's first letter.
  if ((c | 0x20) !== first && !(c > 0x7f)) return false;
  return text.slice(at, at + entryName.length).toLowerCase() === entryName;
}

/** Characters that end a tag name, as entryNameAt reads one. */
export function endsName(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x3e || c === 0x2f;
}
