import { createHash } from 'node:crypto';
import type { ScreeningSourceConfig } from '../../config/schema.js';
import { FeedParseError } from '../../errors.js';
import type { ScreeningEntry } from '../../items/item.js';
import { displayUrl } from '../http/display-url.js';
import type { PollContext, PollResult } from '../registry.js';
import { ACCEPT, fetchSource, commitUnlessDeferred } from './fetch.js';
import { parseJsonBody } from './json.js';
import { asText, type RawItem } from './raw-item.js';
import { readDocument } from './read.js';
import { toItems } from './to-item.js';

/** One list entry as read, with the key that identifies it across polls and the hash of the fields we report. */
export interface ListedEntry {
  key: string;
  /**
   * What identifies the entry in the list: its id, else its list and name. `key` is this unless other entries share
   * it, which the list allows (duplicate ids; namesakes on one list without ids).
   */
  baseKey: string;
  hash: string;
  entry: Omit<ScreeningEntry, 'change'>;
  url?: string;
  programs: string[];
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);
const texts = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(asText).filter((v): v is string => v !== undefined) : asText(value) ? [asText(value)!] : [];

/** Reads the Consolidated Screening List JSON (`results[]`, as served by trade.gov's API and its download). */
export function readScreeningList(sourceId: string, doc: unknown, url: string, lists?: string[]): ListedEntry[] {
  const results = Array.isArray(doc) ? doc : (doc as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) {
    throw new FeedParseError(sourceId, 'unexpected-json', `response from ${displayUrl(url)} is not a screening list (expected "results": [...])`);
  }
  const wanted = lists?.map((l) => l.toLowerCase());
  const out: ListedEntry[] = [];
  for (const r of results as Array<Record<string, unknown>>) {
    if (!r || typeof r !== 'object') continue;
    const name = asText(r.name);
    const list = asText(r.source) ?? 'Consolidated Screening List';
    if (!name || (wanted && !wanted.some((w) => list.toLowerCase().includes(w)))) continue;
    const addresses = Array.isArray(r.addresses) ? (r.addresses as Array<Record<string, unknown>>) : [];
    const entry: Omit<ScreeningEntry, 'change'> = {
      name,
      altNames: texts(r.alt_names),
      list,
      addresses: addresses
        .map((a) => [a?.address, a?.city, a?.state, a?.postal_code, a?.country].map(asText).filter(Boolean).join(', '))
        .filter(Boolean),
      countries: [...new Set(addresses.map((a) => asText(a?.country)).filter((c): c is string => c !== undefined))],
      startDate: asText(r.start_date) ?? null,
      ...(asText(r.federal_register_notice) && { federalRegisterNotice: asText(r.federal_register_notice) }),
    };
    const programs = texts(r.programs);
    // The entry's own id when the list gives one; otherwise what it is: the list and the name.
    const key = asText(r.id) ?? asText(r.entity_number) ?? hash(`${list}\u0000${name}`);
    const url = asText(r.source_list_url) ?? asText(r.source_information_url);
    out.push({ key, baseKey: key, hash: hash(JSON.stringify([entry, programs])), entry, url, programs });
  }
  return keyApart(out);
}

/**
 * Gives entries that share a key keys of their own: the shared key, "~" and their content hash (and "~2", "~3", ... for
 * identical copies), so they no longer overwrite each other in the snapshot and flip-flop as "changed" at every
 * poll. The key does not depend on the entries' order, and an entry alone with its key keeps it exactly, so the
 * snapshots stored before keep matching.
 */
function keyApart(entries: ListedEntry[]): ListedEntry[] {
  const count = new Map<string, number>();
  for (const e of entries) count.set(e.baseKey, (count.get(e.baseKey) ?? 0) + 1);
  const copies = new Map<string, number>();
  for (const e of entries) {
    if (count.get(e.baseKey)! < 2) continue;
    const key = `${e.baseKey}~${e.hash}`;
    const n = (copies.get(key) ?? 0) + 1;
    copies.set(key, n);
    e.key = n === 1 ? key : `${key}~${n}`;
  }
  return entries;
}

const KEYED_APART = /^(.*)~[0-9a-f]{16}(?:~\d+)?$/;
const baseKeyOf = (key: string) => KEYED_APART.exec(key)?.[1] ?? key;

/**
 * Entries new or changed against the last snapshot, and the snapshot diff that records this poll. An entry that shares
 * its key with others changes key when its content changes, or when it gains or loses a namesake: matched by the key
 * they share against the stored entries gone from the snapshot, the same content under a new key is no change, and
 * new content in place of a gone entry is a change, not an addition.
 */
export function diffScreening(
  previous: Map<string, string>,
  current: ListedEntry[],
): { changes: Array<ListedEntry & { change: ScreeningEntry['change'] }>; set: Map<string, string>; remove: string[] } {
  const present = new Set(current.map((e) => e.key));
  const remove = [...previous.keys()].filter((k) => !present.has(k));
  const gone = new Map<string, string[]>();
  for (const k of remove) {
    const base = baseKeyOf(k);
    const hashes = gone.get(base);
    if (hashes) hashes.push(previous.get(k)!);
    else gone.set(base, [previous.get(k)!]);
  }
  // Renames first, so that a namesake listed before an unchanged entry cannot take the unchanged entry's place.
  const renamed = new Set<ListedEntry>();
  for (const e of current) {
    const hashes = previous.has(e.key) ? undefined : gone.get(e.baseKey);
    const i = hashes?.indexOf(e.hash) ?? -1;
    if (i < 0) continue;
    hashes!.splice(i, 1);
    renamed.add(e);
  }
  const set = new Map<string, string>();
  const changes: Array<ListedEntry & { change: ScreeningEntry['change'] }> = [];
  for (const e of current) {
    const before = previous.get(e.key);
    if (before === e.hash) continue;
    set.set(e.key, e.hash);
    if (renamed.has(e)) continue;
    const replaces = before !== undefined || gone.get(e.baseKey)?.shift() !== undefined;
    changes.push({ ...e, change: replaces ? 'changed' : 'added' });
  }
  return { changes, set, remove };
}

/** "Entity List: Acme Rare Earths Co (CN)". The list's short name is what precedes " (EL) - Bureau ...". */
export function screeningTitle(entry: Omit<ScreeningEntry, 'change'>): string {
  const short = entry.list.split(/ \(| - /)[0].trim();
  const where = entry.countries.length ? ` (${entry.countries.join(', ')})` : '';
  return `${short}: ${entry.name}${where}`;
}

export function screeningRawItem(e: ListedEntry, change: ScreeningEntry['change']): RawItem {
  const { entry } = e;
  const parts = [
    change === 'added' ? `Listed on ${entry.list}${entry.startDate ? ` from ${entry.startDate}` : ''}.` : `Entry on ${entry.list} changed.`,
    entry.altNames.length ? `Also known as: ${entry.altNames.join('; ')}.` : '',
    entry.addresses.length ? `Addresses: ${entry.addresses.join(' | ')}.` : '',
    entry.federalRegisterNotice ? `Federal Register: ${entry.federalRegisterNotice}.` : '',
  ];
  return {
    // Hash in the guid: a changed entry is a new item, not a duplicate of the listing it revises.
    guid: `${e.key}#${e.hash}`,
    title: screeningTitle(entry),
    url: e.url,
    summary: parts.filter(Boolean).join(' '),
    date: entry.startDate ?? undefined,
    categories: [entry.list, ...e.programs],
    screening: { ...entry, change },
  };
}

/**
 * The snapshot field that records what the snapshot was taken of: the source's URL (which may select lists itself,
 * `?sources=EL`) and its `lists` filter. No entry key starts with NUL: keys are the list's ids or hex hashes. Its
 * name is from when it held the filter alone; snapshots already written carry it.
 */
export const SELECTION_FIELD = '\u0000lists';

/**
 * What selects the entries: the URL (as a digest: its query may hold a key) and the `lists` filter, matched
 * case-insensitively and in any order, so only that counts.
 */
export function selectionFingerprint(lists: string[] | undefined, url = ''): string {
  const filter = lists ? [...new Set(lists.map((l) => l.toLowerCase()))].sort() : null;
  return JSON.stringify({ url: createHash('sha256').update(url).digest('hex').slice(0, 16), lists: filter });
}

/**
 * Entries that may vanish from the list between two polls without the answer being suspect. The CSL gains and loses
 * a few dozen entries a week; an answer that loses more than half of the snapshot, and more than this many entries,
 * is an import in progress, a truncated download or an outage page in JSON, not a mass delisting. Taken as the list,
 * it would drop those entries from the snapshot and report every one of them as "added" when the full list returns.
 * The floor keeps a small filtered list (a dozen entries) free to lose most of them for real.
 */
export const SHRINK_FLOOR = 50;

/** Why an answer of `current` entries cannot follow a snapshot of `previous` entries, or undefined if it can. */
export function shrinkRefusal(previous: number, current: number): string | undefined {
  if (previous > 0 && current === 0) return 'answered with no entries';
  const lost = previous - current;
  if (lost > SHRINK_FLOOR && lost > previous / 2) return `lost ${lost} of its entries at once`;
  return undefined;
}

/**
 * Yields an item per entry added or changed since the last poll. The first poll only records a baseline (no items):
 * the list holds thousands of entries, and alerting on all of them would bury the one that matters. So does the first
 * poll after the URL or the `lists` filter changed: entries a wider selection lets in are not newly listed.
 */
export async function poll(source: ScreeningSourceConfig, ctx: PollContext): Promise<PollResult> {
  const fetched = await fetchSource(source, ctx, ACCEPT.json);
  if (fetched.notModified) return { status: 'not-modified' };
  const { response } = fetched;
  await ctx.bodyArrived?.();
  const current = readDocument(source.id, () => readScreeningList(source.id, parseJsonBody(source.id, response.body, response.url, response.contentType), response.url, source.lists));
  const stored = await ctx.state.getScreeningSnapshot(source.id);
  const selection = selectionFingerprint(source.lists, source.url);
  const storedSelection = stored?.get(SELECTION_FIELD);
  const previous = stored && new Map([...stored].filter(([k]) => k !== SELECTION_FIELD));
  // A snapshot an earlier build wrote without its fingerprint was most likely taken of what the source selects now: it
  // is read as is (without the shrink check, which a filter added since would trip) and the fingerprint recorded. An
  // empty one is what an earlier build left after an empty answer wiped it: no baseline at all.
  const unrecorded = previous !== null && previous.size > 0 && storedSelection === undefined;
  const baseline = previous === null || previous.size === 0 || (storedSelection !== selection && !unrecorded);
  const log = { sourceId: source.id, entries: current.length };
  if (!baseline && !unrecorded) {
    const refusal = shrinkRefusal(previous.size, current.length);
    if (refusal) {
      // Thrown before any commit: the snapshot and the validators stay as they were, and the next poll reads the list again.
      throw new FeedParseError(
        source.id,
        'list-shrank',
        `the screening list at ${displayUrl(response.url)} ${refusal} (${previous.size} entries before, ${current.length} now); ` +
          `the answer is refused and nothing was recorded. If the list really shrank, run "chokepoint rebaseline ${source.id}" to record a new baseline.`,
      );
    }
  } else if (current.length === 0) {
    // An empty baseline would make the next full answer thousands of "added" entries: the first entries seen are the baseline.
    ctx.log.warn(log, 'screening list answered with no entries; no baseline recorded');
    return { status: 'ok', items: [], bytes: response.body.length, commit: async () => undefined };
  }
  const diff = diffScreening(previous ?? new Map(), current);
  if (storedSelection !== selection) diff.set.set(SELECTION_FIELD, selection);
  // That earlier snapshot may have been of less than the source selects now (a filter widened with the upgrade): a
  // flood of additions against it is a new baseline, not news.
  const flooded = unrecorded && current.length - previous.size > SHRINK_FLOOR && previous.size < current.length / 2;
  if (flooded) ctx.log.warn({ ...log, added: diff.changes.length }, 'screening list snapshot from an earlier build is far smaller than the list now; new baseline recorded, no items for this poll');
  const items = baseline || flooded ? [] : readDocument(source.id, () => toItems(diff.changes.map((c) => screeningRawItem(c, c.change)), source.id, ctx.now));
  const commit = await commitUnlessDeferred(ctx, async () => {
    await ctx.state.updateScreeningSnapshot(source.id, diff, ctx.now);
    if (previous === null || previous.size === 0) ctx.log.info(log, 'screening list baseline recorded; later polls report changes');
    else if (baseline) ctx.log.info({ ...log, lists: source.lists ?? null }, 'screening list URL or filter changed; new baseline recorded, no items for this poll');
    await fetched.commit();
  });
  return { status: 'ok', items, bytes: response.body.length, commit };
}
