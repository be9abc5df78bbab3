/**
 * Process-wide registry of secret values (interpolated environment variables and credential-bearing config values).
 * The logger and error formatting scrub every registered value, so a secret cannot reach a log line even when a
 * library error drags a URL or header into it.
 */
const secrets = new Set<string>();
let pattern: RegExp | null = null;

/** Shortest value treated as a secret; shorter values would scrub ordinary words. */
const MIN_SECRET_LENGTH = 6;

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH || secrets.has(value)) return;
  secrets.add(value);
  // URL-encoded forms appear in request URLs and error messages.
  const encoded = encodeURIComponent(value);
  if (encoded !== value) secrets.add(encoded);
  // A secret URL's path alone (Slack/Teams put the credential there) also counts.
  try {
    const url = new URL(value);
    if (url.pathname.length >= 12) secrets.add(url.pathname + url.search);
    if (url.password) secrets.add(url.password);
    if (url.password) secrets.add(decodeURIComponent(url.password));
  } catch {
    /* not a URL */
  }
  pattern = null;
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
