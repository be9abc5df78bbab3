/** What ioredis resolves a pipeline or transaction to: one [error, value] pair per command, null for an aborted EXEC. */
export type Replies = Array<[Error | null, unknown]> | null;

/** The values of a pipeline's or transaction's replies; throws the first error reply, or when a transaction aborted. */
export function replyValues(results: Replies): unknown[] {
  if (results === null) throw new Error('Redis transaction was aborted');
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
  return results.map(([, value]) => value);
}
