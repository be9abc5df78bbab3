import { Writable } from 'node:stream';
import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactSecrets } from './secrets.js';

export type { Logger };

/**
 * Structured JSON logs (pretty when stdout is a terminal). Two layers keep secrets out:
 * known sensitive paths are censored by pino's redaction, and every line is scrubbed of registered secret values
 * (config ${NAME} values, webhook URLs, SMTP passwords) just before it is written.
 */
export interface LogOptions {
  level?: string;
  /** Defaults to stdout; tests pass their own stream to inspect lines. */
  destination?: NodeJS.WritableStream;
  pretty?: boolean;
  base?: Record<string, unknown>;
}

const REDACT_PATHS = [
  'headers.authorization',
  'headers.Authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.Authorization',
  'err.config',
  'err.request',
  'err.response.config',
  'err.response.request',
  '*.password',
  '*.pass',
  '*.webhookUrl',
  '*.smtpUrl',
  '*.secret',
  'webhookUrl',
  'smtpUrl',
  'secret',
];

// Credential headers at any depth of a logged object (an axios config nested three levels down, say).
const CREDENTIAL_HEADER = /("(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true && !process.env.CI);
  const pinoOptions: LoggerOptions = {
    level,
    base: options.base ?? { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError },
    hooks: { streamWrite: (line: string) => redactSecrets(line).replace(CREDENTIAL_HEADER, '$1"[redacted]"') },
  };
  if (pretty) {
    return pino({ ...pinoOptions, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  }
  return pino(pinoOptions, options.destination ?? pino.destination({ fd: 1, sync: false }));
}

/**
 * Errors are logged as a reduced object: a library error (axios, nodemailer) carries its request config, URL and
 * headers as enumerable properties, which would drag secrets into the line.
 */
const EXPECTED_FAULT = /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Command timed out|Reached the max retries per request limit/;

export function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  const e = err as Error & Record<string, unknown>;
  for (const key of ['code', 'reason', 'sourceId', 'channelId', 'kind', 'delayMs', 'status', 'responseCode', 'command']) {
    if (e[key] !== undefined && typeof e[key] !== 'object') out[key] = e[key];
  }
  const response = e.response as { status?: number } | undefined;
  if (response && typeof response.status === 'number') out.status = response.status;
  // Stack traces only for what is not an expected failure: our typed errors (CP_...) and system errors
  // (ECONNREFUSED, ETIMEDOUT, ...) carry a code and say enough without one.
  // Lost-connection errors from the Redis client carry no code ("Connection is closed.") but are just as expected.
  const expected = ('code' in e && typeof e.code === 'string') || EXPECTED_FAULT.test(err.message);
  if (!expected) out.stack = err.stack;
  if (err.cause !== undefined) out.cause = serializeError(err.cause);
  return out;
}

/** A logger that discards everything (tests, one-shot commands that print their own output). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Collects log lines in memory; for tests that assert on what was logged. */
export function memoryLogger(level = 'debug'): { log: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  const log = createLogger({ level, destination, pretty: false });
  return { log, lines: () => chunks.join('').split('\n').filter(Boolean) };
}
