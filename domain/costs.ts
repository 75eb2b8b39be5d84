/**
 * The cost table (SPEC §3): data, not branches. Video rates are kept in tenths of a credit per second
 * so ceil(rate × duration) is exact integer arithmetic on milliseconds.
 */
export type ModelCost =
  | { kind: 'image'; creditsPerImage: { standard: number; high: number } }
  | { kind: 'video'; tenthsPerSecond: number };

export const COST_TABLE: Readonly<Record<string, ModelCost>> = {
  'imagen-3': { kind: 'image', creditsPerImage: { standard: 2, high: 3 } }, // standard ≤ 1024 px, high 2048 px
  'veo-2': { kind: 'video', tenthsPerSecond: 20 },
  'kling-2': { kind: 'video', tenthsPerSecond: 12 },
  'runway-gen4-turbo': { kind: 'video', tenthsPerSecond: 8 },
};

export const MODEL_IDS = Object.keys(COST_TABLE) as [string, ...string[]];
export const MAX_COUNT = 10;
export const MAX_DURATION_S = 600;

export interface CostRequest {
  model: string;
  count?: number;
  resolution?: 'standard' | 'high';
  duration_s?: number;
}

export type Estimate = { ok: true; credits: number } | { ok: false; field: string; reason: string };

export function estimateCredits(req: CostRequest): Estimate {
  const cost = COST_TABLE[req.model];
  if (!cost) return { ok: false, field: 'model', reason: `unknown model; one of ${MODEL_IDS.join(', ')}` };
  const count = req.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    return { ok: false, field: 'count', reason: `must be a whole number from 1 to ${MAX_COUNT}` };
  }
  if (cost.kind === 'image') {
    if (req.duration_s !== undefined) return { ok: false, field: 'duration_s', reason: 'only applies to video models' };
    return { ok: true, credits: cost.creditsPerImage[req.resolution ?? 'standard'] * count };
  }
  if (req.resolution !== undefined) return { ok: false, field: 'resolution', reason: 'only applies to image models' };
  const durationMs = Math.round((req.duration_s ?? NaN) * 1000);
  if (!(durationMs > 0 && durationMs <= MAX_DURATION_S * 1000) || Math.abs(durationMs - req.duration_s! * 1000) > 1e-6) {
    return { ok: false, field: 'duration_s', reason: `required for video: seconds, above 0 and at most ${MAX_DURATION_S}, in steps of 0.001` };
  }
  // ceil(tenths × ms / 10 000) without floating point.
  const perVideo = Math.ceil((cost.tenthsPerSecond * durationMs) / 10_000);
  return { ok: true, credits: perVideo * count };
}
