import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export const SMTP_USER = 'alerts';
export const SMTP_PASSWORD = 'Sm7p-Pa$$word-4-tests';

/** A refusal: the reply code, and optionally the text the server says with it. */
export type SmtpRefusal = number | { code: number; message: string };

/** What the scripted server answers at RCPT TO and after DATA; undefined accepts. */
export interface SmtpScript {
  rcpt?: (address: string) => SmtpRefusal | undefined;
  data?: (index: number) => number | undefined;
  /** Ms the server waits before answering a message's DATA (a slow server); 0 or undefined answers at once. */
  dataDelayMs?: (index: number) => number | undefined;
}

function reject(refusal: SmtpRefusal): Error {
  const { code, message } = typeof refusal === 'number' ? { code: refusal, message: refusal >= 500 ? 'Rejected for good' : 'Try again later' } : refusal;
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * A real SMTP server on 127.0.0.1 (no TLS, AUTH PLAIN/LOGIN allowed in clear) that parses every message it gets with
 * mailparser, including the ones it then rejects at DATA, so a test can compare attempts.
 */
export async function startSmtp(script: SmtpScript = {}) {
  const received: ParsedMail[] = [];
  const envelopes: string[][] = [];
  const attempts: ParsedMail[] = [];
  const rcpts: string[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: true,
    closeTimeout: 200,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) return callback(null, { user: auth.username });
      // A careless server that echoes the credentials it refused, to prove we scrub what servers say.
      callback(Object.assign(new Error(`Authentication failed for ${auth.username}:${auth.password}`), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      rcpts.push(address.address);
      const refusal = script.rcpt?.(address.address);
      callback(refusal ? reject(refusal) : undefined);
    },
    onData(stream, session, callback) {
      // The envelope, not the To header, says who a message went to.
      const to = session.envelope.rcptTo.map((r) => r.address);
      simpleParser(stream).then(
        (mail) => {
          attempts.push(mail);
          const index = attempts.length - 1;
          const answer = () => {
            const code = script.data?.(index);
            if (code) return callback(reject(code));
            received.push(mail);
            envelopes.push(to);
            callback();
          };
          const delay = script.dataDelayMs?.(index);
          if (delay) setTimeout(answer, delay);
          else answer();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    smtpUrl: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASSWORD)}@127.0.0.1:${port}`,
    /** Messages accepted. */
    received,
    /** The envelope recipients (RCPT TO accepted) of each message in `received`. */
    envelopes,
    /** Every address asked for at RCPT TO, accepted or not, in order. */
    rcpts,
    /** Every message that reached DATA, accepted or not. */
    attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
