import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { credentialsIn, isCredential } from './credentials.js';
import { closest, type ConfigIssue, formatPath } from './errors.js';
import { interpolateEnv } from './env.js';

export interface ReadResult<T> {
  /** The validated document, without the entries in `leftOut`. */
  data?: T;
  issues: ConfigIssue[];
  /** Entries left out of `data` because a variable they use is missing and the caller allowed it (optional channels). */
  leftOut: LeftOut[];
  /** Values to scrub from logs: every value taken from the environment and every credential written in the file. */
  secrets: string[];
}

export interface LeftOut {
  /** Path of the entry in the document, e.g. ["channels", 2]. */
  path: (string | number)[];
  /** The entry as written (validated but for its missing values), for its id. */
  entry: unknown;
  /** The missing variables, in document order. */
  missing: string[];
}

export interface ReadOptions {
  optional?: boolean;
  /**
   * For a missing variable at `path`: the path of the list entry to leave out of the data instead of reporting an
   * error (e.g. an optional channel), or undefined to report it.
   */
  leaveOutOnMissingEnv?: (path: (string | number)[], root: unknown) => (string | number)[] | undefined;
}

export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') ? relative : file;
}

/**
 * Reads one YAML config file, interpolates ${NAME}, validates it against the schema and returns every issue with
 * its path and line. A missing environment variable is an error unless the caller leaves its entry out.
 * No issue shows a value that came from the environment or that is a credential: it names the variable or says so.
 */
export function readConfigFile<S extends z.ZodType>(file: string, schema: S, env: NodeJS.ProcessEnv, options: ReadOptions = {}): ReadResult<z.infer<S>> {
  const shown = displayPath(file);
  const failed = (issues: ConfigIssue[]): ReadResult<z.infer<S>> => ({ issues, leftOut: [], secrets: [] });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (options.optional) return { data: schema.parse({}) as z.infer<S>, issues: [], leftOut: [], secrets: [] };
      return failed([{ file: shown, path: '', message: 'file not found' }]);
    }
    return failed([{ file: shown, path: '', message: `cannot be read: ${(err as Error).message}` }]);
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return failed(
      doc.errors.map((e) => ({
        file: shown,
        path: '',
        line: e.linePos?.[0]?.line,
        message: `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    // yaml refuses to expand an alias bomb (aliases of aliases) by throwing; that is a problem of this file.
    return failed([{ file: shown, path: '', message: `YAML error: ${(err as Error).message} (too many aliases: expand them by hand)` }]);
  }
  const lineOf = (p: readonly PropertyKey[]) => nodeLine(doc, lineCounter, p);

  const issues: ConfigIssue[] = [];
  const interpolated = interpolateEnv(raw, env);
  const document = interpolated.value;
  const secrets = [...interpolated.used, ...credentialsIn(document)];
  const leftOut = new Map<string, LeftOut>();
  for (const missing of interpolated.missing) {
    const owner = options.leaveOutOnMissingEnv?.(missing.path, document);
    if (owner) {
      // Keep the document valid so the rest of the entry is still checked; the entry is left out of the data.
      setAt(document, missing.path, INACTIVE_PLACEHOLDER);
      const key = formatPath(owner);
      if (!leftOut.has(key)) leftOut.set(key, { path: owner, entry: valueAt(document, owner), missing: [] });
      leftOut.get(key)!.missing.push(missing.name);
      continue;
    }
    issues.push({
      file: shown,
      path: formatPath(missing.path),
      line: lineOf(missing.path),
      message: `environment variable ${missing.name} is not set`,
    });
  }

  const references = new Map(interpolated.references.map((r) => [formatPath(r.path), r]));
  const show = (p: readonly PropertyKey[], value: unknown): string => {
    const reference = references.get(formatPath(p));
    if (reference) return reference.whole ? `(value of $${reference.names[0]})` : `(value using ${reference.names.map((n) => `$${n}`).join(', ')})`;
    if (isCredential(p, value)) return '(value not shown: a credential)';
    return JSON.stringify(value);
  };
  const describe = (issue: ZodIssueLike) => describeZodIssue(shown, issue, lineOf, document, schema, show);

  // A value emptied by a missing variable is already reported (or its entry left out); its schema error would repeat it.
  const emptied = new Set(interpolated.missing.map((m) => formatPath(m.path)));
  const parsed = schema.safeParse(document);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) if (!emptied.has(formatPath(issue.path))) issues.push(...describe(issue));
  }
  if (issues.length > 0) return { issues, leftOut: [...leftOut.values()], secrets };
  if (leftOut.size === 0) return { data: parsed.data as z.infer<S>, issues, leftOut: [], secrets };
  // The left-out entries may hold a placeholder their schema rejects (a cron expression, a time zone): drop them.
  const rest = schema.safeParse(without(document, [...leftOut.values()].map((l) => l.path)));
  if (!rest.success) return { issues: rest.error.issues.flatMap(describe), leftOut: [...leftOut.values()], secrets };
  return { data: rest.data as z.infer<S>, issues, leftOut: [...leftOut.values()], secrets };
}

/** Stands in for a missing variable of an optional channel, so that the rest of its entry is still validated. */
export const INACTIVE_PLACEHOLDER = 'http://inactive.invalid/';

/** A copy of the document without the list entries at these paths. */
function without(document: unknown, paths: Array<(string | number)[]>): unknown {
  const copy = structuredClone(document);
  // From the last index down, so that removing one entry does not move the next one to remove.
  const sorted = [...paths].sort((a, b) => Number(b.at(-1)) - Number(a.at(-1)));
  for (const p of sorted) (valueAt(copy, p.slice(0, -1)) as unknown[]).splice(Number(p.at(-1)), 1);
  return copy;
}

function setAt(root: unknown, p: (string | number)[], value: unknown): void {
  let current = root as Record<string | number, unknown>;
  for (const key of p.slice(0, -1)) current = current[key] as Record<string | number, unknown>;
  current[p[p.length - 1]] = value;
}

function nodeLine(doc: Document, counter: LineCounter, p: readonly PropertyKey[]): number | undefined {
  for (let depth = p.length; depth >= 0; depth--) {
    const node = doc.getIn(p.slice(0, depth) as (string | number)[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of p) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key as string];
  }
  return current;
}

// Shapes of zod 4 issues that we rewrite into operator-friendly sentences.
type ZodIssueLike = z.core.$ZodIssue;

function describeZodIssue(
  file: string,
  issue: ZodIssueLike,
  lineOf: (p: readonly PropertyKey[]) => number | undefined,
  root: unknown,
  schema: z.ZodType,
  show: (p: readonly PropertyKey[], value: unknown) => string,
): ConfigIssue[] {
  const at = (p: readonly PropertyKey[], message: string): ConfigIssue => ({ file, path: formatPath(p), line: lineOf(p), message });
  const p = issue.path;

  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(schema, p, root);
    return issue.keys.map((key) => {
      const hint = known ? closest(key, known) : undefined;
      const rest = known ? ` (known: ${known.join(', ')})` : '';
      return at([...p, key], `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : rest}`);
    });
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator) {
    // zod already puts the discriminator key at the end of the path.
    const value = valueAt(root, p);
    const options = (issue as unknown as { options?: unknown[] }).options;
    const knownList = Array.isArray(options) && options.length ? ` (known: ${options.join(', ')})` : '';
    if (value === undefined) return [at(p, `is required${knownList}`)];
    return [at(p, `unknown ${issue.discriminator} ${show(p, value)}${knownList}`)];
  }
  if (issue.code === 'invalid_type') {
    const value = valueAt(root, p);
    if (value === undefined) return [at(p, `is required (${issue.expected})`)];
    return [at(p, `must be ${article(issue.expected)}, got ${describeValue(value, show(p, value))}`)];
  }
  if (issue.code === 'invalid_value') {
    const value = valueAt(root, p);
    const allowed = issue.values.map((v) => JSON.stringify(v)).join(', ');
    return [at(p, `${show(p, value)} is not allowed (expected one of: ${allowed})`)];
  }
  if (issue.code === 'invalid_key') {
    // A record's key (a header name): say what is wrong with it, not zod's "Invalid key in record".
    const why = issue.issues.map((inner) => inner.message).join('; ');
    return [at(p, `${JSON.stringify(String(issue.input ?? p.at(-1)))} ${why || issue.message}`)];
  }
  if (issue.code === 'custom' || issue.code === 'invalid_format') {
    const value = valueAt(root, p);
    const shown = typeof value === 'string' ? `${show(p, value)} ` : '';
    return [at(p, `${shown}${issue.message}`)];
  }
  return [at(p, issue.message)];
}

interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
}
const defOf = (schema: z.ZodType): SchemaDef => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** Walks the schema along a document path to list the keys an object there accepts (for "did you mean"). */
function knownKeysAt(schema: z.ZodType, p: readonly PropertyKey[], root: unknown): string[] | undefined {
  let current: z.ZodType | undefined = schema;
  let index = 0;
  for (let guard = 0; current && guard < 100; guard++) {
    const def = defOf(current);
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else if (def.type === 'union' && def.options) {
      const value = valueAt(root, p.slice(0, index)) as Record<string, unknown> | undefined;
      const discriminator = def.discriminator;
      current = def.options.find((option) => {
        const shape = defOf(option).shape;
        const literal = discriminator && shape?.[discriminator] ? defOf(shape[discriminator]) : undefined;
        return literal && (literal as unknown as { values: unknown[] }).values?.includes(value?.[discriminator!]);
      });
    } else if (index === p.length) return def.shape ? Object.keys(def.shape) : undefined;
    else if (def.type === 'object' && def.shape) current = def.shape[p[index++] as string];
    else if (def.type === 'array' && def.element) {
      current = def.element;
      index++;
    } else return undefined;
  }
  return undefined;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(value: unknown, shown: string): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${shown}`;
}
