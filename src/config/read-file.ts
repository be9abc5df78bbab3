import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { closest, type ConfigIssue, formatPath } from './errors.js';
import { interpolateEnv } from './env.js';

export interface ReadResult<T> {
  data?: T;
  issues: ConfigIssue[];
  /** Paths (dotted) whose value came from a missing environment variable, with the variable's name. */
  missingEnv: Array<{ path: (string | number)[]; name: string }>;
  /** Values taken from the environment (all are treated as secrets). */
  envValues: string[];
}

export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') ? relative : file;
}

/**
 * Reads one YAML config file, interpolates ${NAME}, validates it against the schema and returns every issue with
 * its path and line. Missing environment variables are reported separately so the caller can decide whether they
 * are errors (the default) or make an optional channel inactive.
 */
export function readConfigFile<S extends z.ZodType>(
  file: string,
  schema: S,
  env: NodeJS.ProcessEnv,
  options: { optional?: boolean; tolerateMissingEnv?: (path: (string | number)[], root: unknown) => boolean } = {},
): ReadResult<z.infer<S>> {
  const shown = displayPath(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (options.optional) return { data: schema.parse({}) as z.infer<S>, issues: [], missingEnv: [], envValues: [] };
      return { issues: [{ file: shown, path: '', message: 'file not found' }], missingEnv: [], envValues: [] };
    }
    return { issues: [{ file: shown, path: '', message: `cannot be read: ${(err as Error).message}` }], missingEnv: [], envValues: [] };
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => ({
        file: shown,
        path: '',
        line: e.linePos?.[0]?.line,
        message: `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
      missingEnv: [],
      envValues: [],
    };
  }
  const raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const lineOf = (p: readonly PropertyKey[]) => nodeLine(doc, lineCounter, p);

  const issues: ConfigIssue[] = [];
  const interpolated = interpolateEnv(raw, env);
  const missingEnv = [];
  for (const missing of interpolated.missing) {
    if (options.tolerateMissingEnv?.(missing.path, interpolated.value)) {
      // Keep the document valid so the rest of it is still checked; the caller marks the owner inactive.
      setAt(interpolated.value, missing.path, INACTIVE_PLACEHOLDER);
      missingEnv.push(missing);
      continue;
    }
    issues.push({
      file: shown,
      path: formatPath(missing.path),
      line: lineOf(missing.path),
      message: `environment variable ${missing.name} is not set`,
    });
  }

  const parsed = schema.safeParse(interpolated.value);
  if (!parsed.success) {
    // A value emptied by a missing variable is already reported as such; its schema error would only repeat it.
    const emptied = new Set(interpolated.missing.map((m) => formatPath(m.path)));
    for (const issue of parsed.error.issues) {
      if (emptied.has(formatPath(issue.path))) continue;
      issues.push(...describeZodIssue(shown, issue, lineOf, interpolated.value, schema));
    }
  }
  return {
    data: parsed.success && issues.length === 0 ? (parsed.data as z.infer<S>) : undefined,
    issues,
    missingEnv,
    envValues: interpolated.used,
  };
}

/** Stands in for a missing variable of an optional channel, so that the rest of its entry is still validated. */
export const INACTIVE_PLACEHOLDER = 'http://inactive.invalid/';

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
    return [at(p, `unknown ${issue.discriminator} ${JSON.stringify(value)}${knownList}`)];
  }
  if (issue.code === 'invalid_type') {
    const value = valueAt(root, p);
    if (value === undefined) return [at(p, `is required (${issue.expected})`)];
    return [at(p, `must be ${article(issue.expected)}, got ${describeValue(value)}`)];
  }
  if (issue.code === 'invalid_value') {
    const value = valueAt(root, p);
    const allowed = issue.values.map((v) => JSON.stringify(v)).join(', ');
    return [at(p, `${JSON.stringify(value)} is not allowed (expected one of: ${allowed})`)];
  }
  if (issue.code === 'custom' || issue.code === 'invalid_format') {
    const value = valueAt(root, p);
    const shown = typeof value === 'string' ? `${JSON.stringify(value)} ` : '';
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

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}
