/**
 * Process-wide registry of secret values (interpolated environment variables and credential-bearing config values).
 * The logger and error formatting scrub every registered value, so a secret cannot reach a log line even when a
 * library error drags a URL or header into it.
 */
const secrets = new Set<string>();
let pattern: RegExp | null = null;

/** Shortest value treated as a secret; shorter values would scrub ordinary words. */
const MIN_SECRET_LENGTH = 6;

/** Whether a query parameter carries a credential (ioredis takes `?password=`; APIs `?api_key=`, `?accessToken=`, ...). */
export function isCredentialParam(name: string): boolean {
  return /(^|[_-])(pass|passwd|password|secret|token|key|apikey|auth|sig|signature|credentials?)$/i.test(name) || /[a-z](Key|Token|Secret|Password)$/.test(name);
}

/** Adds a value in every form it may be written in: as is, URL-encoded, and escaped inside a JSON string (log lines). */
function add(value: string): void {
  if (value.length < MIN_SECRET_LENGTH) return;
  secrets.add(value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) secrets.add(encoded);
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secrets.add(escaped);
}

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH || secrets.has(value)) return;
  add(value);
  // A secret URL's path alone (Slack/Teams put the credential there) also counts, and so do its password and keys.
  try {
    const url = new URL(value);
    if (url.pathname.length >= 12) add(url.pathname + url.search);
    urlCredentials(url).forEach(add);
  } catch {
    /* not a URL */
  }
  pattern = null;
}

/** Registers only the credentials inside a URL (password, key parameters), e.g. of a Redis URL whose host may be logged. */
export function registerUrlCredentials(value: string): void {
  try {
    urlCredentials(new URL(value)).forEach(add);
    pattern = null;
  } catch {
    /* not a URL: nothing to take from it */
  }
}

/** The password of a URL, raw and decoded, and the values of its credential query parameters (decoded). */
function urlCredentials(url: URL): string[] {
  const out: string[] = [];
  if (url.password) out.push(url.password, safeDecode(url.password));
  for (const [name, value] of url.searchParams) if (isCredentialParam(name) && value) out.push(value);
  return out;
}

/** A percent-encoded value decoded, or as it is when it is not valid percent-encoding. */
export function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function redactSecrets(text: string): string {
  if (secrets.size === 0) return text;
  if (!pattern) {
    const sorted = [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
    pattern = new RegExp(sorted.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  }
  return text.replace(pattern, '[redacted]');
}

export function clearSecretsForTests(): void {
  secrets.clear();
  pattern = null;
}
