import { isCredentialParam } from '../secrets.js';

/** Keys whose values are credentials even when written in the file rather than as ${NAME}. */
const CREDENTIAL_KEYS = new Set(['webhookUrl', 'smtpUrl', 'secret', 'token', 'password', 'apiKey']);

// A user or password before the host: "scheme://user@host", or without a scheme "user:pass@host" (not an address).
const USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^\s/?#@]+@|^[^\s/?#@:]+:[^\s/?#@]*@/i;

/**
 * Whether the value at this path of a config document is a credential: under a credential key, a header value, a
 * channel's URL (webhook endpoints carry their token in the path), or a string that looks like a URL with a user,
 * password or key in it. Such values are registered for scrubbing and never shown in a config error.
 */
export function isCredential(path: readonly PropertyKey[], value: unknown): boolean {
  if (path.some((key) => typeof key === 'string' && (CREDENTIAL_KEYS.has(key) || key === 'headers'))) return true;
  if (path[0] === 'channels' && path.at(-1) === 'url') return true;
  return typeof value === 'string' && carriesCredential(value);
}

function carriesCredential(value: string): boolean {
  if (USERINFO.test(value)) return true;
  const query = value.indexOf('?');
  if (query < 0) return false;
  return [...new URLSearchParams(value.slice(query + 1)).entries()].some(([name, v]) => v && isCredentialParam(name));
}

/** Every credential string in a config document (see isCredential), for the scrubbing registry. */
export function credentialsIn(document: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown, path: PropertyKey[]) => {
    if (typeof node === 'string') {
      if (isCredential(path, node)) out.push(node);
    } else if (Array.isArray(node)) node.forEach((child, i) => walk(child, [...path, i]));
    else if (node && typeof node === 'object') for (const [key, child] of Object.entries(node)) walk(child, [...path, key]);
  };
  walk(document, []);
  return out;
}
