import { describe, expect, it } from 'vitest';
import { creationLabel } from '../../domain/creation-label.js';

/** SPEC §11: the billing page says what each creation was, from its request and the key that made it. */
describe('creation label', () => {
  it('names the kind, size, count and key; a missing request or an unknown model still reads', () => {
    const ana = { id: 'key_1', name: 'Ana' };
    expect(creationLabel({ model: 'imagen-3', request: { model: 'imagen-3', resolution: 'high', count: 2 }, api_key: ana })).toBe('Image · high · ×2 · key "Ana"');
    expect(creationLabel({ model: 'imagen-3', request: { model: 'imagen-3' }, api_key: null })).toBe('Image · standard');
    expect(creationLabel({ model: 'veo-2', request: { model: 'veo-2', duration_s: 10 }, api_key: { id: 'key_2', name: null } })).toBe('Video · veo-2 · 10 s · key key_2');
    expect(creationLabel({ model: 'kling-2', request: { model: 'kling-2', duration_s: 2.5, count: 3 }, api_key: null })).toBe('Video · kling-2 · 2.5 s · ×3');
    expect(creationLabel({ model: null, request: null, api_key: null })).toBe('Creation');
    expect(creationLabel({ model: 'property-test', request: { model: 'property-test' }, api_key: null })).toBe('property-test');
  });
});
