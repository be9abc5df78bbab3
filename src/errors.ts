import type { RecipientStatus } from './notifiers/types.js';

/**
 * Errors that carry intent: every class names what failed and where, wraps its cause, and never carries a secret.
 * A `code` (CP_...) is stable so logs can be searched and tests can assert on it.
 */
export class ChokepointError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Fetching a source failed (network, HTTP status, size cap, timeout, SSRF refusal, ...). */
export class SourceFetchError extends ChokepointError {
  constructor(
    readonly sourceId: string,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown; retryable?: boolean; retryAfterMs?: number },
  ) {
    super(`CP_SOURCE_${reason.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`, `source "${sourceId}": ${message}`, options);
    this.retryable = options?.retryable ?? false;
    this.retryAfterMs = options?.retryAfterMs;
  }
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
}

/** A fetched document could not be parsed as the source's kind. */
export class FeedParseError extends ChokepointError {
  constructor(
    readonly sourceId: string,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`CP_PARSE_${reason.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`, `source "${sourceId}": ${message}`, options);
  }
}

export type DeliveryErrorKind = 'retryable' | 'rate-limited' | 'permanent';

/** What an email send that failed as a whole still learned about its recipients. */
export interface DeliveryErrorRecipients {
  /** Where each recipient of the channel stands after the send, for the ledger (as DeliveryReceipt.recipients). */
  recipients?: Record<string, RecipientStatus>;
  /** The recipients still without the message, with what the server last said: the ledger's words if the job gives up. */
  stillWithout?: string;
}

/** A notifier failed to deliver; the kind tells the notify job what to do. */
export class DeliveryError extends ChokepointError {
  readonly recipients?: Record<string, RecipientStatus>;
  readonly stillWithout?: string;
  private constructor(
    readonly kind: DeliveryErrorKind,
    readonly channelId: string,
    message: string,
    readonly delayMs: number | undefined,
    options?: { cause?: unknown } & DeliveryErrorRecipients,
  ) {
    super(`CP_DELIVERY_${kind.toUpperCase().replace('-', '_')}`, `channel "${channelId}": ${message}`, options);
    if (options?.recipients) this.recipients = options.recipients;
    if (options?.stillWithout) this.stillWithout = options.stillWithout;
  }
  /** `delayMs`: the least wait before the retry that the receiver asked for (Retry-After on a 503). */
  static retryable(channelId: string, message: string, options?: { cause?: unknown; delayMs?: number } & DeliveryErrorRecipients): DeliveryError {
    return new DeliveryError('retryable', channelId, message, options?.delayMs, options);
  }
  static rateLimited(channelId: string, delayMs: number, message: string, options?: { cause?: unknown }): DeliveryError {
    return new DeliveryError('rate-limited', channelId, message, delayMs, options);
  }
  static permanent(channelId: string, message: string, options?: { cause?: unknown } & DeliveryErrorRecipients): DeliveryError {
    return new DeliveryError('permanent', channelId, message, undefined, options);
  }
}
