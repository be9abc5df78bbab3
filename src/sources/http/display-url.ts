import { redactSecrets } from '../../secrets.js';

// Query parameters that commonly carry credentials (API keys, signed-URL signatures, tokens).
const SECRET_PARAM = /(^|_|-)(key|apikey|api_key|token|access_token|auth|secret|password|pass|sig|signature|code|session|sid|credential)s?$/i;

/**
 * A URL fit for logs and error messages: userinfo dropped, values of credential-like query parameters replaced,
 * and any registered secret scrubbed. Source URLs can embed API keys (${NAME} in sources.yaml).
 */
export function displayUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redactSecrets(url.slice(0, 200));
  }
  parsed.username = '';
  parsed.password = '';
  for (const name of [...new Set(parsed.searchParams.keys())]) {
    if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, 'redacted');
  }
  return redactSecrets(parsed.toString());
}
