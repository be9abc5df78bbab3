import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parseDocument } from 'yaml';

/**
 * Finds the line of a node in a YAML file, for issues found after schema validation (unknown ids, cross-references).
 * Only runs when there is something to report, so it re-reads the file rather than keeping documents around.
 */
export function createLocator(): (file: string, path: readonly (string | number)[]) => number | undefined {
  const cache = new Map<string, { doc: ReturnType<typeof parseDocument>; counter: LineCounter } | null>();
  return (file, path) => {
    let entry = cache.get(file);
    if (entry === undefined) {
      try {
        const counter = new LineCounter();
        entry = { doc: parseDocument(readFileSync(file, 'utf8'), { lineCounter: counter }), counter };
      } catch {
        entry = null;
      }
      cache.set(file, entry);
    }
    if (!entry) return undefined;
    for (let depth = path.length; depth >= 0; depth--) {
      const node = entry.doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return entry.counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}
