import { z } from 'zod';
import { badRequest } from './errors.js';

/** A time in a query string: ISO 8601 or milliseconds since the epoch; becomes ms. */
export const timeParam = z.string().transform((value, ctx) => {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
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
