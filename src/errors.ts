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

/** A notifier failed to deliver; the kind tells the notify job what to do. */
export class DeliveryError extends ChokepointError {
  private constructor(
    readonly kind: DeliveryErrorKind,
    readonly channelId: string,
    message: string,
    readonly delayMs: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`CP_DELIVERY_${kind.toUpperCase().replace('-', '_')}`, `channel "${channelId}": ${message}`, options);
  }
  /** `delayMs`: the least wait before the retry that the receiver asked for (Retry-After on a 503). */
  static retryable(channelId: string, message: string, options?: { cause?: unknown; delayMs?: number }): DeliveryError {
    return new DeliveryError('retryable', channelId, message, options?.delayMs, options);
  }
  static rateLimited(channelId: string, delayMs: number, message: string, options?: { cause?: unknown }): DeliveryError {
    return new DeliveryError('rate-limited', channelId, message, delayMs, options);
  }
  static permanent(channelId: string, message: string, options?: { cause?: unknown }): DeliveryError {
    return new DeliveryError('permanent', channelId, message, undefined, options);
  }
}
