/**
 * ${NAME} interpolation over a parsed YAML value. "$${NAME}" is an escaped literal "${NAME}".
 * Returns the new value, the variables that were missing (with where), the values used (treated as secrets), and
 * which strings took variables (so that an error about one names the variable instead of showing its value).
 */
export interface Interpolated {
  value: unknown;
  missing: Array<{ path: (string | number)[]; name: string }>;
  used: string[];
  /** Strings that took one or more variables; `whole` when the string was exactly one ${NAME}. */
  references: Array<{ path: (string | number)[]; names: string[]; whole: boolean }>;
}

const REFERENCE = /\$\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv): Interpolated {
  const missing: Interpolated['missing'] = [];
  const used: string[] = [];
  const references: Interpolated['references'] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      if (!node.includes('${')) return node;
      const names: string[] = [];
      const out = node.replace(REFERENCE, (whole, name: string | undefined) => {
        if (!name) return whole.slice(1); // escaped $${X} -> ${X}
        names.push(name);
        const found = env[name];
        if (found === undefined || found === '') {
          missing.push({ path, name });
          return '';
        }
        used.push(found);
        return found;
      });
      if (names.length) references.push({ path, names, whole: names.length === 1 && node === `\${${names[0]}}` });
      return out;
    }
    if (Array.isArray(node)) return node.map((child, i) => walk(child, [...path, i]));
    if (node && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[key] = walk(child, [...path, key]);
      return out;
    }
    return node;
  };
  return { value: walk(value, []), missing, used, references };
}
