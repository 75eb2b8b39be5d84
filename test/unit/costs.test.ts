import { describe, expect, it } from 'vitest';
import { estimateCredits } from '../../domain/costs.js';

describe('cost table', () => {
  it.each([
    [{ model: 'imagen-3' }, 2],
    [{ model: 'imagen-3', resolution: 'high' as const }, 3],
    [{ model: 'imagen-3', resolution: 'high' as const, count: 4 }, 12],
    [{ model: 'veo-2', duration_s: 10 }, 20],
    [{ model: 'kling-2', duration_s: 10 }, 12],
    [{ model: 'runway-gen4-turbo', duration_s: 10 }, 8],
    [{ model: 'kling-2', duration_s: 1 }, 2], // ceil(1.2)
    [{ model: 'runway-gen4-turbo', duration_s: 2.5 }, 2], // exactly 2.0
    [{ model: 'runway-gen4-turbo', duration_s: 2.501 }, 3],
    [{ model: 'veo-2', duration_s: 50 }, 100],
  ])('%j costs %i credits', (request, credits) => {
    expect(estimateCredits(request)).toEqual({ ok: true, credits });
  });

  it.each([
    [{ model: 'dall-e' }, 'model'],
    [{ model: 'veo-2' }, 'duration_s'],
    [{ model: 'veo-2', duration_s: 0 }, 'duration_s'],
    [{ model: 'veo-2', duration_s: 601 }, 'duration_s'],
    [{ model: 'veo-2', duration_s: 1.0001 }, 'duration_s'],
    [{ model: 'imagen-3', count: 0 }, 'count'],
    [{ model: 'imagen-3', count: 1.5 }, 'count'],
    [{ model: 'imagen-3', duration_s: 3 }, 'duration_s'],
    [{ model: 'veo-2', duration_s: 3, resolution: 'high' as const }, 'resolution'],
  ])('%j is refused on %s', (request, field) => {
    expect(estimateCredits(request)).toMatchObject({ ok: false, field });
  });
});
