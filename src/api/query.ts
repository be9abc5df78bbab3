import { z } from 'zod';
import { badRequest } from './errors.js';

// An ISO 8601 date-time without "Z" or an offset. Date.parse reads it in the server's local zone, so the same URL would
// name a different instant on every host: it is taken as UTC instead (date-only forms already are).
const NO_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** A time in a query string: ISO 8601 (UTC when it has no offset) or milliseconds since the epoch; becomes ms. */
export const timeParam = z.string().transform((value, ctx) => {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(NO_OFFSET.test(value) ? `${value.replace(' ', 'T')}Z` : value);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a time (ISO 8601 like 2025-10-06T08:00:00Z, or ms since the epoch)` });
    return z.NEVER;
  }
  return ms;
});

/** Validates a query string; every problem in one 400 naming the parameter. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const result = schema.safeParse(query ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `unknown parameter${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    const name = issue.path.join('.') || 'query';
    return `${name}: ${issue.message}`;
  });
  throw badRequest(problems.join('; '));
}
