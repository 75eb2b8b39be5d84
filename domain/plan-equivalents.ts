/**
 * What a plan's credits buy, in creations (issue 13, SPEC §1 and §3): the pricing page's "roughly N images /
 * M videos" and its per-model cost table, both computed from the cost table (domain/costs.ts) through
 * estimateCredits, so the page can never promise more than the spend path charges. Pure, no I/O.
 */
import type { Plan } from './catalog.js';
import { COST_TABLE, estimateCredits, type CostRequest, type ModelCost } from './costs.js';

/** The video length the page quotes ("a 10 second video"), in seconds. */
export const REFERENCE_VIDEO_S = 10;

/** One row of the pricing page's cost table: a model and what one creation of it costs, in credits. */
export interface ModelCostRow {
  model: string;
  kind: ModelCost['kind'];
  /** Image models: credits per standard (≤ 1024 px) and high-resolution (2048 px) image. */
  perImage?: { standard: number; high: number };
  /** Video models: the rate in credits per second as a decimal string ("1.2"), exact from tenths. */
  perSecond?: string;
  /** Video models: credits of one REFERENCE_VIDEO_S video (ceil(rate × duration)). */
  referenceVideo?: number;
}

function credits(request: CostRequest): number {
  const estimate = estimateCredits(request);
  // The requests below are built from the table itself; a refusal here is a broken table, not input.
  if (!estimate.ok) throw new Error(`cost table cannot price ${JSON.stringify(request)}: ${estimate.field} ${estimate.reason}`);
  return estimate.credits;
}

/** Tenths of a credit as a decimal string without floating point: 12 → "1.2", 20 → "2.0". */
function tenths(value: number): string {
  return `${Math.trunc(value / 10)}.${value % 10}`;
}

/** The cost table as rows for the pricing page, in the table's order, each price from estimateCredits. */
export function modelCostRows(): ModelCostRow[] {
  return Object.entries(COST_TABLE).map(([model, cost]) => cost.kind === 'image'
    ? { model, kind: 'image', perImage: { standard: credits({ model, resolution: 'standard' }), high: credits({ model, resolution: 'high' }) } }
    : { model, kind: 'video', perSecond: tenths(cost.tenthsPerSecond), referenceVideo: credits({ model, duration_s: REFERENCE_VIDEO_S }) });
}

/** A plan's monthly credits counted in creations of one kind: floor(credits / cost each). */
export interface Equivalent {
  /** Whole creations the monthly credits pay for. */
  count: number;
  /** Credits one of them costs. */
  creditsEach: number;
  model: string;
}

export interface PlanEquivalents {
  monthlyCredits: number;
  /** High-resolution images of the most expensive image model (the page's "high-end images"). */
  highResImages: Equivalent;
  /** Standard images of the cheapest image model. */
  standardImages: Equivalent;
  /** REFERENCE_VIDEO_S videos on the most expensive video model (fewest) and the cheapest (most). */
  premiumVideos: Equivalent;
  economyVideos: Equivalent;
}

function countOf(monthlyCredits: number, options: { model: string; creditsEach: number }[], pick: 'dearest' | 'cheapest'): Equivalent {
  const sorted = [...options].sort((a, b) => (pick === 'dearest' ? b.creditsEach - a.creditsEach : a.creditsEach - b.creditsEach));
  const chosen = sorted[0];
  if (!chosen) throw new Error('the cost table has no model of this kind');
  return { model: chosen.model, creditsEach: chosen.creditsEach, count: Math.floor(monthlyCredits / chosen.creditsEach) };
}

/**
 * How many creations a plan's monthly credits pay for, from the cost table: e.g. Max's 400 credits are
 * floor(400 / 3) = 133 high-resolution imagen-3 images, or 20 ten-second veo-2 videos, or 50 on
 * runway-gen4-turbo. Counts round down (a whole creation must be paid for). Throws if the table lacks
 * an image or a video model.
 */
export function planEquivalents(plan: Pick<Plan, 'monthlyCredits'>): PlanEquivalents {
  const rows = modelCostRows();
  const images = rows.filter((r) => r.perImage);
  const videos = rows.filter((r) => r.referenceVideo !== undefined);
  const n = plan.monthlyCredits;
  return {
    monthlyCredits: n,
    highResImages: countOf(n, images.map((r) => ({ model: r.model, creditsEach: r.perImage!.high })), 'dearest'),
    standardImages: countOf(n, images.map((r) => ({ model: r.model, creditsEach: r.perImage!.standard })), 'cheapest'),
    premiumVideos: countOf(n, videos.map((r) => ({ model: r.model, creditsEach: r.referenceVideo! })), 'dearest'),
    economyVideos: countOf(n, videos.map((r) => ({ model: r.model, creditsEach: r.referenceVideo! })), 'cheapest'),
  };
}

/** The range of credits over the table's models of one kind, e.g. images 2–3, 10 s videos 8–20. */
export function creditRange(kind: ModelCost['kind']): { min: number; max: number } {
  const values = modelCostRows().flatMap((r) => (kind === 'image'
    ? (r.perImage ? [r.perImage.standard, r.perImage.high] : [])
    : (r.referenceVideo !== undefined ? [r.referenceVideo] : [])));
  return { min: Math.min(...values), max: Math.max(...values) };
}
