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
/** Largest request body read (JSON for the queue board), and the largest sign-in form. */
export const BODY_LIMIT_BYTES = 64 * 1024;
export const FORM_LIMIT_BYTES = 8 * 1024;

export const bodyTooLarge = (message: string) => new HttpError(413, 'CP_API_BODY_TOO_LARGE', message);
export const unsupportedMediaType = (message: string) => new HttpError(415, 'CP_API_UNSUPPORTED_MEDIA_TYPE', message);

/** The body of every error answer: `{"error": {"code": "CP_API_...", "message": "..."}}`. */
export const errorBody = (err: HttpError) => ({ error: { code: err.code, message: err.message } });

/**
 * A client error raised by Fastify itself (an empty or malformed JSON body, a content type no route reads, a body over
 * the limit, a path that does not percent-decode) as one of ours, so clients see one error shape with our codes;
 * undefined for anything that is not a 4xx.
 */
export function fromFrameworkError(err: { statusCode?: number; message: string }, contentType?: string): HttpError | undefined {
  const status = err.statusCode;
  if (!status || status < 400 || status > 499) return undefined;
  if (status === 413) return bodyTooLarge(`request body too large: the API reads at most ${BODY_LIMIT_BYTES / 1024} KiB (${FORM_LIMIT_BYTES / 1024} KiB from the sign-in form)`);
  // Only the sign-in form and the queue board read a body.
  if (status === 415) return unsupportedMediaType(`content type ${JSON.stringify(contentType ?? '')} is not read here: send JSON, the sign-in form, or no body`);
  if (status === 404) return notFound(err.message);
  return badRequest(err.message);
}
