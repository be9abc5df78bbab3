import dns from 'node:dns';
import net, { BlockList } from 'node:net';
import { ChokepointError } from '../errors.js';

/**
 * SSRF guard shared by sources and notifiers. Feed URLs, pagination links, redirects and webhook targets come from
 * config files and from remote documents, so every connection is checked against non-public address ranges at
 * connect time (after DNS resolution, which also defeats DNS rebinding), and every URL's literal host up front.
 */

/** A URL or address was refused by the SSRF guard or the scheme policy. */
export class UrlRefusedError extends ChokepointError {
  constructor(
    readonly reason: 'private-address' | 'scheme' | 'invalid-url',
    message: string,
    readonly address?: string,
  ) {
    super(reason === 'private-address' ? 'CP_SSRF_REFUSED' : reason === 'scheme' ? 'CP_URL_SCHEME_REFUSED' : 'CP_URL_INVALID', message);
  }
}

const blocked = new BlockList();
// IPv4 special-purpose ranges (IANA IPv4 special-purpose registry) that must never be fetched on behalf of config.
for (const [net4, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT (also Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, includes the 169.254.169.254 cloud metadata service
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes broadcast
] as const) {
  blocked.addSubnet(net4, bits, 'ipv4');
}
// Azure's wire server / metadata endpoint is a public-looking address.
blocked.addAddress('168.63.129.16', 'ipv4');
for (const [net6, bits] of [
  ['::', 128],
  ['::1', 128],
  ['::', 96], // IPv4-compatible (deprecated)
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (includes AWS fd00:ec2::254 metadata)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net6, bits, 'ipv6');
}

/** True for loopback, private, link-local, CGNAT, unique-local, metadata, multicast and reserved addresses. */
export function isPrivateAddress(ip: string): boolean {
  const address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = net.isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all: refuse rather than guess
  const embedded = embeddedIPv4(address);
  if (embedded) return blocked.check(embedded, 'ipv4');
  return blocked.check(address, 'ipv6');
}

/**
 * IPv6 forms that carry an IPv4 address the packet may end up at: IPv4-mapped (::ffff:a.b.c.d), NAT64
 * (64:ff9b::/96) and 6to4 (2002::/16). They are judged by the IPv4 address inside.
 */
function embeddedIPv4(address: string): string | undefined {
  const words = expandIPv6(address);
  if (!words) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return v4(words[6], words[7]);
  if (words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0)) return v4(words[6], words[7]);
  if (words[0] === 0x2002) return v4(words[1], words[2]);
  return undefined;
}

function expandIPv6(address: string): number[] | undefined {
  let text = address.split('%')[0].toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const parts = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + `${((parts[0] << 8) | parts[1]).toString(16)}:${((parts[2] << 8) | parts[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headWords = head ? head.split(':') : [];
  const tailWords = tail ? tail.split(':') : [];
  const missing = 8 - headWords.length - tailWords.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  return [...headWords, ...Array<string>(missing).fill('0'), ...tailWords].map((w) => parseInt(w || '0', 16));
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;
export type LookupFunction = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => void;

/**
 * A dns.lookup replacement for http(s).Agent / net.connect: resolves every address and refuses the connection when
 * none is public. Only public addresses are handed to the socket, so a mixed answer cannot steer it inward.
 */
export function guardedLookup(allowPrivate: boolean, isPrivate: (ip: string) => boolean = isPrivateAddress): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, options.all ? [] : '', undefined);
      const usable = allowPrivate ? addresses : addresses.filter((a) => !isPrivate(a.address));
      if (usable.length === 0) {
        const list = addresses.map((a) => a.address).join(', ') || 'no address';
        return callback(
          new UrlRefusedError(
            'private-address',
            `refused to connect to ${hostname} (${list}): not a public address; set http.allowPrivateAddresses to allow it`,
            addresses[0]?.address,
          ) as unknown as NodeJS.ErrnoException,
          options.all ? [] : '',
          undefined,
        );
      }
      if (options.all) return callback(null, usable);
      callback(null, usable[0].address, usable[0].family);
    });
  };
}

/** Hostnames that always mean this machine (RFC 6761), refused without a DNS round trip. */
function isLocalName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/**
 * Checks a URL before any request: the scheme (http/https, file: only when allowed) and a literal or local host.
 * Hostnames are checked again at connect time by guardedLookup.
 */
export function assertUrlAllowed(
  url: string,
  opts: { allowPrivateAddresses: boolean; allowFileUrls?: boolean; isPrivate?: (ip: string) => boolean },
): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UrlRefusedError('invalid-url', 'is not an absolute URL');
  }
  if (parsed.protocol === 'file:') {
    if (opts.allowFileUrls) return;
    throw new UrlRefusedError('scheme', 'file: URLs are refused; set http.allowFileUrls to allow them');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UrlRefusedError('scheme', `scheme "${parsed.protocol}" is refused (only http and https)`);
  }
  if (opts.allowPrivateAddresses) return;
  // WHATWG URL already normalised decimal/hex/octal IPv4 forms ("2130706433", "0x7f.1") to dotted quads.
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isLocalName(host) || (net.isIP(host) !== 0 && (opts.isPrivate ?? isPrivateAddress)(host))) {
    throw new UrlRefusedError(
      'private-address',
      `refused host ${parsed.hostname}: not a public address; set http.allowPrivateAddresses to allow it`,
      host,
    );
  }
}
