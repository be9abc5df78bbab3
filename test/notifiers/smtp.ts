import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export const SMTP_USER = 'alerts';
export const SMTP_PASSWORD = 'Sm7p-Pa$$word-4-tests';

/** What the scripted server answers at RCPT TO and after DATA; undefined accepts. */
export interface SmtpScript {
  rcpt?: (address: string) => number | undefined;
  data?: (index: number) => number | undefined;
}

function reject(code: number): Error {
  return Object.assign(new Error(code >= 500 ? 'Rejected for good' : 'Try again later'), { responseCode: code });
}

/**
 * A real SMTP server on 127.0.0.1 (no TLS, AUTH PLAIN/LOGIN allowed in clear) that parses every message it gets with
 * mailparser, including the ones it then rejects at DATA, so a test can compare attempts.
 */
export async function startSmtp(script: SmtpScript = {}) {
  const received: ParsedMail[] = [];
  const attempts: ParsedMail[] = [];
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
      const code = script.rcpt?.(address.address);
      callback(code ? reject(code) : undefined);
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          attempts.push(mail);
          const code = script.data?.(attempts.length - 1);
          if (code) return callback(reject(code));
          received.push(mail);
          callback();
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
    /** Every message that reached DATA, accepted or not. */
    attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
