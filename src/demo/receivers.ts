import { randomBytes } from 'node:crypto';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from '../notifiers/webhook-signature.js';
import type { WebhookBodyV1 } from '../notifiers/webhook.js';
import { startLocalServer, type LocalServer } from './local-server.js';

export interface SlackMessage {
  at: Date;
  payload: { text?: string; blocks?: Array<{ type: string; text?: { type: string; text: string }; fields?: Array<{ type: string; text: string }>; elements?: Array<{ type: string; text: string }> }> };
}

export interface SlackReceiver extends LocalServer {
  webhookUrl: string;
  messages: SlackMessage[];
}

/**
 * A Slack-compatible incoming-webhook receiver: takes the JSON a Slack webhook takes and answers as Slack does
 * ("ok", or 400 "invalid_payload" for a body that is not a message).
 */
export async function startSlackReceiver(onMessage: (message: SlackMessage) => void): Promise<SlackReceiver> {
  const messages: SlackMessage[] = [];
  const server = await startLocalServer((req, res, body) => {
    let payload: SlackMessage['payload'];
    try {
      payload = JSON.parse(body.toString('utf8')) as SlackMessage['payload'];
    } catch {
      payload = {};
    }
    if (req.method !== 'POST' || (!payload.text && !payload.blocks?.length)) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('invalid_payload');
      return;
    }
    const message = { at: new Date(), payload };
    messages.push(message);
    onMessage(message);
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
  });
  // The path has the shape of a real webhook URL; its "token" is random so no two demo runs share one.
  return { ...server, webhookUrl: `${server.url}/services/TDEMO/BDEMO/${randomBytes(12).toString('hex')}`, messages };
}

export interface WebhookDelivery {
  at: Date;
  body: WebhookBodyV1;
  signatureValid: boolean;
}

export interface WebhookReceiver extends LocalServer {
  hookUrl: string;
  secret: string;
  deliveries: WebhookDelivery[];
}

/** A receiver of Chokepoint's signed webhooks that checks each signature the way docs/webhooks.md tells receivers to. */
export async function startWebhookReceiver(onDelivery: (delivery: WebhookDelivery) => void): Promise<WebhookReceiver> {
  const secret = randomBytes(24).toString('base64url');
  const deliveries: WebhookDelivery[] = [];
  const server = await startLocalServer((req, res, body) => {
    let parsed: WebhookBodyV1;
    try {
      parsed = JSON.parse(body.toString('utf8')) as WebhookBodyV1;
    } catch {
      res.writeHead(400).end();
      return;
    }
    const header = (name: string) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value[0] : value;
    };
    const signatureValid = verifyWebhookSignature(secret, header(TIMESTAMP_HEADER), body, header(SIGNATURE_HEADER));
    const delivery = { at: new Date(), body: parsed, signatureValid };
    deliveries.push(delivery);
    onDelivery(delivery);
    res.writeHead(signatureValid ? 204 : 401).end();
  });
  return { ...server, hookUrl: `${server.url}/hooks/chokepoint`, secret, deliveries };
}
