/**
 * Aho-Corasick automaton over UTF-16 code units: every pattern is found in one left-to-right pass, so the cost per
 * item grows with the length of the text and the number of hits, not with the number of patterns.
 *
 * Layout: characters are first mapped to a dense alphabet (only characters that occur in some pattern get a symbol;
 * any other character sends the automaton back to the root). The root has a dense row (most steps start there, after
 * a space); every other node keeps its children as a sorted run in two flat typed arrays, which most nodes of a
 * lexicon trie have one or two of. A Map keyed by node and symbol would cost a hash per character, several times
 * slower. Failure links and "dictionary" links (the next node on the failure chain that ends a pattern) are
 * precomputed, so reporting all overlapping matches costs only the matches themselves.
 */
export class Automaton {
  private readonly symbols = new Uint16Array(65536);
  private readonly childStart: Int32Array;
  private readonly childSymbol: Uint16Array;
  private readonly childNode: Int32Array;
  private readonly rootRow: Int32Array;
  private readonly fail: Int32Array;
  /** First pattern ending at each node (-1 none); further ones follow through outNext. */
  private readonly outHead: Int32Array;
  private readonly outNext: Int32Array;
  private readonly dictLink: Int32Array;
  readonly nodeCount: number;

  constructor(patterns: readonly Uint16Array[]) {
    let size = 1;
    for (const p of patterns) for (const c of p) if (this.symbols[c] === 0) this.symbols[c] = size++;
    const { symbols } = this;

    // The trie is built from the patterns in sorted order (by symbol, then by id), so that a node's children are made
    // in ascending symbol order and no map of edges or per-node child lists is needed: those were most of what building
    // the automaton allocated (compiling the default lexicon took the heap to 55 MB, now 40 MB).
    const order = Int32Array.from(patterns.keys()).sort((a, b) => {
      const pa = patterns[a];
      const pb = patterns[b];
      const n = Math.min(pa.length, pb.length);
      for (let i = 0; i < n; i++) {
        const d = symbols[pa[i]] - symbols[pb[i]];
        if (d !== 0) return d;
      }
      return pa.length - pb.length || a - b;
    });
    let capacity = 1;
    for (const p of patterns) capacity += p.length;

    const parent = new Int32Array(capacity);
    const nodeSymbol = new Uint16Array(capacity);
    const outHead = new Int32Array(capacity).fill(-1);
    const outNext = new Int32Array(patterns.length).fill(-1);
    // The path of the previous pattern: path[d] is its node at depth d (path[0] the root).
    let longest = 0;
    for (const p of patterns) longest = Math.max(longest, p.length);
    const path = new Int32Array(longest + 1);
    let previous: Uint16Array | undefined;
    let nodes = 1;
    for (const id of order) {
      const pattern = patterns[id];
      let shared = 0;
      if (previous) while (shared < pattern.length && shared < previous.length && pattern[shared] === previous[shared]) shared++;
      for (let depth = shared; depth < pattern.length; depth++) {
        parent[nodes] = path[depth];
        nodeSymbol[nodes] = symbols[pattern[depth]];
        path[depth + 1] = nodes++;
      }
      previous = pattern;
      if (pattern.length === 0) continue;
      const node = path[pattern.length];
      // Patterns ending at one node are chained newest id first, as they always were.
      outNext[id] = outHead[node];
      outHead[node] = id;
    }
    this.nodeCount = nodes;
    this.outHead = outHead.slice(0, nodes);
    this.outNext = outNext;

    // Children per node, in creation order (ascending symbol for each parent), flattened into typed arrays.
    this.childStart = new Int32Array(nodes + 1);
    for (let node = 1; node < nodes; node++) this.childStart[parent[node] + 1]++;
    for (let node = 0; node < nodes; node++) this.childStart[node + 1] += this.childStart[node];
    this.childSymbol = new Uint16Array(nodes - 1);
    this.childNode = new Int32Array(nodes - 1);
    const fill = this.childStart.slice(0, nodes);
    for (let node = 1; node < nodes; node++) {
      const at = fill[parent[node]]++;
      this.childSymbol[at] = nodeSymbol[node];
      this.childNode[at] = node;
    }

    this.rootRow = new Int32Array(size);
    for (let edge = this.childStart[0]; edge < this.childStart[1]; edge++) this.rootRow[this.childSymbol[edge]] = this.childNode[edge];

    this.fail = new Int32Array(nodes);
    this.dictLink = new Int32Array(nodes).fill(-1);
    const queue = new Int32Array(nodes);
    let head = 0;
    let tail = 0;
    for (let edge = this.childStart[0]; edge < this.childStart[1]; edge++) queue[tail++] = this.childNode[edge];
    while (head < tail) {
      const node = queue[head++];
      for (let edge = this.childStart[node]; edge < this.childStart[node + 1]; edge++) {
        const symbol = this.childSymbol[edge];
        const child = this.childNode[edge];
        let f = this.fail[node];
        let target = this.step(f, symbol);
        while (target < 0 && f !== 0) {
          f = this.fail[f];
          target = this.step(f, symbol);
        }
        const failTo = target < 0 || target === child ? 0 : target;
        this.fail[child] = failTo;
        this.dictLink[child] = this.outHead[failTo] >= 0 ? failTo : this.dictLink[failTo];
        queue[tail++] = child;
      }
    }
  }

  /** The transition from node on symbol, or -1. */
  private step(node: number, symbol: number): number {
    if (node === 0) return this.rootRow[symbol] || -1;
    let lo = this.childStart[node];
    let hi = this.childStart[node + 1] - 1;
    // Binary search over the sorted run; for the usual one or two children this is one or two comparisons.
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.childSymbol[mid];
      if (s === symbol) return this.childNode[mid];
      if (s < symbol) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Scans text[0..length) and calls onMatch(patternId, end) for every occurrence (end is exclusive), including
   * overlapping and nested ones.
   */
  scan(text: Uint16Array, length: number, onMatch: (patternId: number, end: number) => void): void {
    const { symbols, rootRow, childStart, childSymbol, childNode, fail, outHead, outNext, dictLink } = this;
    let node = 0;
    // Never read past the buffer: an undefined unit would make the symbol undefined and the failure walk endless.
    const end = Math.min(length, text.length);
    for (let i = 0; i < end; i++) {
      const symbol = symbols[text[i]];
      if (symbol === 0) {
        node = 0;
        continue;
      }
      for (;;) {
        if (node === 0) {
          node = rootRow[symbol];
          break;
        }
        let lo = childStart[node];
        let hi = childStart[node + 1] - 1;
        let next = -1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          const s = childSymbol[mid];
          if (s === symbol) {
            next = childNode[mid];
            break;
          }
          if (s < symbol) lo = mid + 1;
          else hi = mid - 1;
        }
        if (next >= 0) {
          node = next;
          break;
        }
        node = fail[node];
      }
      if (node === 0) continue;
      let reporting = outHead[node] >= 0 ? node : dictLink[node];
      while (reporting > 0) {
        for (let id = outHead[reporting]; id >= 0; id = outNext[id]) onMatch(id, i + 1);
        reporting = dictLink[reporting];
      }
    }
  }
}
