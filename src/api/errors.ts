import { ChokepointError } from '../errors.js';

/**
 * The API could not start: it would listen beyond loopback without a token, the port is taken, or the address is
 * unusable. The message says what to change; the code is stable for tests and log searches.
 */
export class ApiStartError extends ChokepointError {
  constructor(code: 'CP_API_TOKEN_REQUIRED' | 'CP_API_PORT_IN_USE' | 'CP_API_LISTEN', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** An HTTP answer other than 2xx that a route chose to give, with a stable code for clients. */
export class HttpError extends ChokepointError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

export const badRequest = (message: string) => new HttpError(400, 'CP_API_BAD_REQUEST', message);
export const notFound = (message: string) => new HttpError(404, 'CP_API_NOT_FOUND', message);
export const conflict = (message: string) => new HttpError(409, 'CP_API_CONFLICT', message);
