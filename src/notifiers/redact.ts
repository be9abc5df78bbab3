import type { ChannelConfig } from '../config/schema.js';
import { redactSecrets } from '../secrets.js';

/** URL fragments shorter than this ("services", "invoke", "1.0") are structure, not credentials... */
const MIN_FRAGMENT_LENGTH = 16;
/** ...unless they hold a digit and are this long: a receiver echoing "unknown hook k9Zq2xT7pL" names a key. */
const MIN_FRAGMENT_WITH_DIGIT = 8;

/**
 * Every credential-bearing value of a channel and the fragments a library or receiver might echo: the whole URL,
 * its path (Slack and Teams put the credential there), long query values (Teams workflows sign with `sig=`),
 * passwords, the signing secret and custom header values.
 */
export function channelSecrets(channel: ChannelConfig): readonly string[] {
  // Worked out once per channel config (configs are never changed in place; a reload builds new ones): every send
  // needs the list, and parsing the URLs each time cost more than rendering the message.
  let secrets = secretsByChannel.get(channel);
  if (!secrets) {
    secrets = Object.freeze(collectSecrets(channel));
    secretsByChannel.set(channel, secrets);
  }
  return secrets;
}

const secretsByChannel = new WeakMap<ChannelConfig, readonly string[]>();

function collectSecrets(channel: ChannelConfig): string[] {
  const values: string[] = [];
  const addUrl = (raw: string) => {
    values.push(raw);
    try {
      const url = new URL(raw);
      values.push(url.href, url.pathname + url.search);
      const fragments = [...url.pathname.split('/'), ...url.searchParams.values()];
      for (const fragment of fragments) {
        if (fragment.length >= MIN_FRAGMENT_LENGTH || (fragment.length >= MIN_FRAGMENT_WITH_DIGIT && /\d/.test(fragment))) {
          values.push(fragment, encodeURIComponent(fragment));
        }
      }
      if (url.password) {
        const user = decoded(url.username);
        const password = decoded(url.password);
        values.push(url.password, password);
        // SMTP AUTH sends them base64-encoded (PLAIN: "\0user\0password"; LOGIN: the password alone), and a server
        // may quote what it was sent.
        values.push(base64(`\0${user}\0${password}`), base64(password));
      }
    } catch {
      /* not a URL: the raw value above is enough */
    }
  };
  switch (channel.kind) {
    case 'slack':
    case 'teams':
      addUrl(channel.webhookUrl);
      break;
    case 'email':
      addUrl(channel.smtpUrl);
      break;
    case 'webhook':
      addUrl(channel.url);
      if (channel.secret) values.push(channel.secret);
      for (const value of Object.values(channel.headers ?? {})) {
        values.push(value);
        // A receiver refusing "Bearer abc" tends to quote the token alone.
        const token = /^(?:Bearer|Basic|Token|Bot|ApiKey)\s+(\S+)$/i.exec(value.trim())?.[1];
        if (token) values.push(token);
      }
      break;
  }
  // Longest first, so a URL is replaced whole before its path is.
  return [...new Set(values.filter((v) => v.length >= 4 && v !== '/'))].sort((a, b) => b.length - a.length);
}

/**
 * Removes the channel's own secrets, then every registered secret. Messages are built without secrets in the first
 * place; this is the second line, for text that comes from a receiver or a library.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return redactSecrets(out);
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Percent-decoded, or as written when it is not valid percent-encoding ("p%zz"): never a reason to skip a secret. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
