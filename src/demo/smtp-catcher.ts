import type { AddressInfo } from 'node:net';
import type { AddressObject, ParsedMail } from 'mailparser';
import { ChokepointError } from '../errors.js';

/** smtp-server and mailparser are devDependencies: present after `npm install`, absent with `--omit=dev`. */
export class DemoDependencyError extends ChokepointError {
  constructor(readonly packages: string[], options?: { cause?: unknown }) {
    super(
      'CP_DEMO_MISSING_DEPENDENCY',
      `the demo's mail catcher needs the development packages ${packages.join(' and ')}, which are not installed; ` +
        'run "npm install" in the Chokepoint directory (without --omit=dev / --production) and try again',
      options,
    );
  }
}

type SmtpServerModule = typeof import('smtp-server');
type MailparserModule = typeof import('mailparser');

export interface MailTools {
  SMTPServer: SmtpServerModule['SMTPServer'];
  simpleParser: MailparserModule['simpleParser'];
}

/** Loads the mail catcher's packages, or throws DemoDependencyError naming the missing ones. */
export async function loadMailTools(): Promise<MailTools> {
  const missing: string[] = [];
  let cause: unknown;
  const load = async <T>(name: string, importer: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await importer();
    } catch (err) {
      missing.push(name);
      cause ??= err;
      return undefined;
    }
  };
  const smtp = await load('smtp-server', () => import('smtp-server'));
  const parser = await load('mailparser', () => import('mailparser'));
  if (!smtp || !parser) throw new DemoDependencyError(missing, { cause });
  return { SMTPServer: smtp.SMTPServer, simpleParser: parser.simpleParser };
}

export interface CaughtMail {
  at: Date;
  to: string;
  subject: string;
  messageId?: string;
  inReplyTo?: string;
  listId?: string;
  text: string;
}

export interface SmtpCatcher {
  url: string;
  mails: CaughtMail[];
  close(): Promise<void>;
}

const addresses = (value: AddressObject | AddressObject[] | undefined) =>
  (Array.isArray(value) ? value : value ? [value] : []).map((a) => a.text).join(', ');

/** An SMTP server on 127.0.0.1 that accepts every message (no TLS, no login) and hands each one over parsed. */
export async function startSmtpCatcher(tools: MailTools, onMail: (mail: CaughtMail) => void): Promise<SmtpCatcher> {
  const mails: CaughtMail[] = [];
  const toMail = (parsed: ParsedMail): CaughtMail => {
    const list = parsed.headers.get('list-id');
    return {
      at: new Date(),
      to: addresses(parsed.to),
      subject: parsed.subject ?? '(no subject)',
      messageId: parsed.messageId,
      inReplyTo: parsed.inReplyTo,
      listId: typeof list === 'string' ? list : undefined,
      text: parsed.text ?? '',
    };
  };
  const server = new tools.SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    closeTimeout: 200,
    size: 5 * 1024 * 1024,
    onData(stream, _session, callback) {
      tools.simpleParser(stream).then(
        (parsed) => {
          const mail = toMail(parsed);
          mails.push(mail);
          onMail(mail);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
