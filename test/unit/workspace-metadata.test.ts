import { describe, expect, it } from 'vitest';
import { mergeMetadata, metadataProblem } from '../../domain/workspace-metadata.js';

/** Workspace metadata rules (SPEC §10): Stripe's limits, and how a PATCH merges. */
describe('workspace metadata', () => {
  it('merges a patch: a string sets, null or "" removes, other keys stay', () => {
    expect(mergeMetadata({ a: '1', b: '2', c: '3' }, { a: 'x', b: null, c: '', d: '4' })).toEqual({ a: 'x', d: '4' });
    expect(mergeMetadata({ a: '1' }, {})).toEqual({ a: '1' });
  });

  it('accepts up to 50 keys of 1-40 characters with values of at most 500, and says which limit is passed', () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key${i}`, 'v']));
    expect(metadataProblem(many(50))).toBeUndefined();
    expect(metadataProblem({ ['k'.repeat(40)]: 'v'.repeat(500) })).toBeUndefined();
    expect(metadataProblem(many(51))).toBe('at most 50 keys (51 given)');
    expect(metadataProblem({ ['k'.repeat(41)]: 'v' })).toMatch(/^keys are 1 to 40 characters/);
    expect(metadataProblem({ '': 'v' })).toMatch(/^keys are 1 to 40 characters/);
    expect(metadataProblem({ long: 'v'.repeat(501) })).toBe('values are at most 500 characters (key "long")');
    expect(metadataProblem({ removed: null })).toBeUndefined();
  });
});
