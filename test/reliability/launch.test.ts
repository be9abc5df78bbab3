import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startEnv, startHeapFlags } from './support/worker-process.js';

/** The worker's heap flags are set where it is launched; every launcher must agree, or a deployment loses them. */
describe('the worker launch', () => {
  it('bounds the heap in npm start', () => {
    expect(startHeapFlags()).toEqual(['--max-semi-space-size=4', '--max-old-space-size=384']);
  });

  it('limits glibc to two malloc arenas, and has it return 32 KB blocks and the heap top, in npm start and in the Docker image', () => {
    expect(startEnv()).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '32768', MALLOC_TRIM_THRESHOLD_: '65536' });
    const dockerfile = readFileSync(path.join(PACKAGE_ROOT, 'Dockerfile'), 'utf8');
    for (const [name, value] of Object.entries(startEnv())) expect(new RegExp(`^ENV ${name}=(\\S+)$`, 'm').exec(dockerfile)?.[1], name).toBe(value);
  });

  it('gives the Docker image the same flags, as NODE_OPTIONS so a deployment can override them', () => {
    const dockerfile = readFileSync(path.join(PACKAGE_ROOT, 'Dockerfile'), 'utf8');
    const nodeOptions = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile)?.[1];
    expect(nodeOptions?.split(' ')).toEqual(startHeapFlags());
    // The compose file runs the image's worker without flags of its own, so it inherits NODE_OPTIONS.
    const compose = readFileSync(path.join(PACKAGE_ROOT, 'docker-compose.yml'), 'utf8');
    expect(compose).not.toMatch(/NODE_OPTIONS|max-old-space-size/);
  });
});
