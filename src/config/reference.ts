import { configJsonSchemas } from './json-schema.js';

/** The README's configuration reference, generated from the JSON Schemas (which come from the zod schemas). */
export function configReferenceMarkdown(): string {
  const out: string[] = [];
  for (const [file, schema] of Object.entries(configJsonSchemas())) {
    out.push(`### \`${file.replace('.schema.json', '.yaml')}\``, '', '| key | type | default | description |', '| --- | --- | --- | --- |');
    for (const row of rows(schema as JsonSchema, '')) out.push(`| \`${row.key}\` | ${row.type} | ${row.default} | ${row.description} |`);
    out.push('');
  }
  return out.join('\n');
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
}

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return schema.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (schema.const !== undefined) return `\`${String(schema.const)}\``;
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(' or ');
  if (schema.type === 'array') return `list of ${schema.items ? typeOf(schema.items) : 'any'}`;
  if (schema.type === 'object' && schema.additionalProperties && typeof schema.additionalProperties === 'object') return 'map of string';
  const max = schema.maximum !== undefined && schema.maximum < 1e12 ? schema.maximum : undefined;
  const range = schema.minimum !== undefined || max !== undefined ? ` ${schema.minimum ?? ''}..${max ?? ''}` : '';
  return `${Array.isArray(schema.type) ? schema.type.join('/') : (schema.type ?? 'any')}${range}`;
}

function rows(schema: JsonSchema, prefix: string, required = true): Row[] {
  const out: Row[] = [];
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants && variants.some((v) => v.properties)) {
    // A discriminated union (source and channel kinds): list the shared keys once, then each kind's own keys.
    const seen = new Set<string>();
    for (const variant of variants) {
      const kind = variant.properties?.kind?.const;
      for (const row of rows(variant, prefix)) {
        const own = row.key.replace(prefix, '');
        const shared = variants.every((v) => v.properties?.[own.replace(/^\./, '').split(/[.[]/)[0]]);
        const key = shared || kind === undefined ? row.key : `${row.key} (kind: ${String(kind)})`;
        if (seen.has(key)) continue;
        seen.add(key);
        const discriminator = own.replace(/^\./, '') === 'kind';
        out.push({ ...row, key, type: discriminator ? variants.map((v) => `\`${String(v.properties?.kind?.const)}\``).join(' \\| ') : row.type });
      }
    }
    return out;
  }
  if (schema.type === 'array' && schema.items) return rows(schema.items, `${prefix}[]`, required);
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const key = prefix ? `${prefix}.${name}` : name;
    const isRequired = (schema.required ?? []).includes(name) && child.default === undefined;
    const hasChildren = child.properties || (child.type === 'array' && (child.items?.properties || (child.items?.anyOf ?? child.items?.oneOf)?.some((v) => v.properties)));
    out.push({
      key,
      type: typeOf(child),
      default: child.default !== undefined && !(typeof child.default === 'object' && child.default !== null && Object.keys(child.default).length === 0) ? `\`${JSON.stringify(child.default)}\`` : isRequired && required ? '**required**' : '',
      description: (child.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' '),
    });
    if (hasChildren) out.push(...rows(child, key, isRequired));
  }
  return out;
}
