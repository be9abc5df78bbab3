import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/log.js';
import { logUnlessConnectionError } from '../../src/worker/worker-errors.js';

const parse = (lines: string[]) => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

describe('errors BullMQ emits, as the worker logs them', () => {
  it('says in one line, without a stack, that a job vanished from a Redis restarted without persistence', () => {
    const { log, lines } = memoryLogger('debug');
    logUnlessConnectionError(log, new Error('Missing key for job poll-wire-1795945260000. moveToFinished'), { queue: 'poll' }, 'worker error');
    const [entry] = parse(lines());
    expect(entry).toMatchObject({ level: 40, queue: 'poll', jobId: 'poll-wire-1795945260000', step: 'moveToFinished' });
    expect(entry.msg).toMatch(/vanished from Redis/);
    expect(lines().join('\n')).not.toContain('"stack"');
  });

  it('says that a job lost its lock (a stall) the same way', () => {
    const { log, lines } = memoryLogger('debug');
    logUnlessConnectionError(log, new Error('Missing lock for job notify-x. moveToFinished'), { queue: 'notify' }, 'worker error');
    const [entry] = parse(lines());
    expect(entry).toMatchObject({ level: 40, jobId: 'notify-x', step: 'moveToFinished' });
    expect(entry.msg).toMatch(/lost its lock/);
  });

  it('says at info, without a stack, that a node changed role: a failover ends a blocking wait with UNBLOCKED', () => {
    const { log, lines } = memoryLogger('debug');
    logUnlessConnectionError(log, new Error('UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)'), { queue: 'score' }, 'worker error');
    logUnlessConnectionError(log, new Error('MOVED 9189 127.0.0.1:7002'), { queue: 'notify' }, 'queue error');
    logUnlessConnectionError(log, new Error('Unblocked for no reason'), { queue: 'poll' }, 'worker error');
    logUnlessConnectionError(log, new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 11819 127.0.0.1:17302'), { queue: 'score' }, 'worker error');
    const [unblocked, moved, other, exhausted] = parse(lines());
    expect(exhausted).toMatchObject({ level: 30, reply: 'MOVED' });
    expect(unblocked).toMatchObject({ level: 30, queue: 'score', reply: 'UNBLOCKED' });
    expect(unblocked.msg).toMatch(/changed role or a slot moved/);
    expect(moved).toMatchObject({ level: 30, reply: 'MOVED' });
    expect(other).toMatchObject({ level: 40, msg: 'worker error' });
    expect(lines().slice(0, 2).join('\n')).not.toContain('"stack"');
  });

  it('keeps connection faults at debug, and anything else as a warning with its error', () => {
    const { log, lines } = memoryLogger('debug');
    logUnlessConnectionError(log, Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }), { queue: 'poll' }, 'queue error');
    logUnlessConnectionError(log, new Error('something new'), { queue: 'score' }, 'worker error');
    const [fault, other] = parse(lines());
    expect(fault).toMatchObject({ level: 20, msg: 'queue error' });
    expect(other).toMatchObject({ level: 40, msg: 'worker error', queue: 'score' });
    expect((other.err as { message: string }).message).toBe('something new');
  });
});
