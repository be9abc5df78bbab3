/**
 * Every Redis key the project writes starts with "{prefix}:". The braces make the prefix a Redis Cluster hash tag,
 * so BullMQ's multi-key scripts and our own multi-key commands always land in one slot.
 */
export function hashTag(prefix: string): string {
  return `{${prefix}}`;
}

export function keyFor(prefix: string, ...parts: Array<string | number>): string {
  return [hashTag(prefix), ...parts].join(':');
}
