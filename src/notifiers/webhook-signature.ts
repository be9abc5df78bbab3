import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The webhook signature scheme (documented in docs/webhooks.md): HMAC-SHA256 over "<timestamp>.<body>" with the
 * channel secret, sent as `X-Chokepoint-Signature: sha256=<hex>` beside `X-Chokepoint-Timestamp: <unix seconds>`.
 * Signing the timestamp with the body lets a receiver refuse replays of an old, captured request.
 */

export const SIGNATURE_HEADER = 'X-Chokepoint-Signature';
export const TIMESTAMP_HEADER = 'X-Chokepoint-Timestamp';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signWebhook(secret: string, timestamp: number | string, body: string | Buffer): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`);
  hmac.update(body);
  return `sha256=${hmac.digest('hex')}`;
}

/**
 * Reference verifier for receivers: true when the signature header carries a valid HMAC of exactly these body bytes
 * and the timestamp is within the tolerance of now. Compares in constant time. The header may list several
 * signatures separated by commas (e.g. during a secret rotation); one valid signature is enough.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number | undefined,
  body: string | Buffer,
  signatureHeader: string | undefined,
  options: { toleranceSeconds?: number; now?: Date } = {},
): boolean {
  if (!secret || timestamp === undefined || !signatureHeader) return false;
  const ts = String(timestamp).trim();
  if (!/^\d{1,12}$/.test(ts)) return false;
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(nowSeconds - Number(ts)) > tolerance) return false;
  const expected = Buffer.from(signWebhook(secret, ts, body).slice('sha256='.length), 'hex');
  return signatureHeader.split(',').some((part) => {
    const match = /^\s*sha256=([0-9a-fA-F]{64})\s*$/.exec(part);
    return match !== null && timingSafeEqual(Buffer.from(match[1], 'hex'), expected);
  });
}
