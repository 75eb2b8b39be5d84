/**
 * The usage chart of /billing (SPEC §11, issue 13) as data: from credits captured per day per model, the
 * available balance at each day's end, the periods and the marks, the SVG's geometry (bars stacked by model,
 * the balance line, ticks, marks) computed with d3-scale and d3-shape. Pure: no I/O, no clock (the caller
 * passes `now`, the workspace's time). usage-chart-section.tsx draws it.
 */
import { scaleBand, scaleLinear, scaleUtc } from 'd3-scale';
import { line, stack } from 'd3-shape';
import { addMonthsClamped, DAY_MS, isoDay, MONTHLY_PERIOD_MS } from '../../../domain/calendar.js';
import type { Interval } from '../../../domain/catalog.js';
import { MODEL_IDS } from '../../../domain/costs.js';

/** Credits captured on one UTC day (`YYYY-MM-DD`) by one model. */
export interface DayModelCredits { day: string; model: string; credits: number }
/** The available balance at the end of a UTC day (for today: now). */
export interface DayClosingBalance { day: string; available: number }

export interface ChartPeriod { label: string; start: Date; end: Date }

/** An instant marked on the chart: the next refresh, or a live lot's expiry. */
export interface ChartMarkInput { kind: 'refresh' | 'expiry'; at: Date; label: string; credits?: number; lot?: string }

export interface UsageChartInput {
  /** Previous, then current (credit) period; the chart spans the first's start to the last's end, in whole UTC days. */
  periods: ChartPeriod[];
  /** The workspace's current time: the balance line stops here, later days are the period still to come. */
  now: Date;
  captured: DayModelCredits[];
  balances: DayClosingBalance[];
  marks: ChartMarkInput[];
}

export interface ChartBar { day: string; model: string; credits: number; x: number; y: number; width: number; height: number; color: string }
export interface ChartDay {
  day: string;
  /** Credits captured per model that day (only models with credits). */
  byModel: Record<string, number>;
  total: number;
  /** Available at the day's end (today: now); null for days still to come. */
  available: number | null;
}
export interface ChartTick { at: number; label: string }
export interface ChartMark extends ChartMarkInput { x: number }
export interface ChartPeriodBand extends ChartPeriod { x0: number; x1: number }

export interface UsageChart {
  width: number;
  height: number;
  /** The plotting area inside the axes. */
  plot: { left: number; right: number; top: number; bottom: number };
  from: Date;
  to: Date;
  days: ChartDay[];
  /** Models in legend and stacking order (the cost table's order, then any other by name). */
  models: { model: string; color: string }[];
  bars: ChartBar[];
  /** The balance line's points (x at each day's end, or now for today) and its SVG path. */
  balancePoints: { day: string; x: number; y: number; available: number }[];
  balancePath: string;
  /** Left axis: credits spent per day; right axis: available balance; bottom: days. */
  spendTicks: ChartTick[];
  balanceTicks: ChartTick[];
  dayTicks: ChartTick[];
  periods: ChartPeriodBand[];
  marks: ChartMark[];
  /** x of now, when it falls inside the chart. */
  nowX: number | null;
  totalSpent: number;
}

const WIDTH = 720;
const HEIGHT = 300;
const MARGIN = { top: 34, right: 52, bottom: 30, left: 44 };

/** One color per model of the cost table (in its order); other models (e.g. 'unknown') share a grey. */
const PALETTE = ['#2f5d50', '#c2703d', '#4a6fa5', '#9a6bb0', '#b49a2f', '#5b8c85'];
const OTHER_COLOR = '#aaa397';

export function modelColor(model: string): string {
  const index = MODEL_IDS.indexOf(model);
  return index >= 0 ? PALETTE[index % PALETTE.length]! : OTHER_COLOR;
}

const dayLabel = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short' });

/** The UTC midnight at or before `ms`. */
function floorDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** The UTC midnight at or after `ms`. */
function ceilDay(ms: number): number {
  return Math.ceil(ms / DAY_MS) * DAY_MS;
}

/**
 * The chart's geometry. Bars: per day, one rect per model stacked with d3-shape's stack, so their heights sum
 * to the day's total on the left (spend) scale. Line: through each day's closing balance on the right
 * (balance) scale, at the day's end (today: at now). Marks outside the chart's span are left out here (the
 * section lists every mark in text).
 */
export function buildUsageChart(input: UsageChartInput): UsageChart {
  const first = input.periods[0];
  const last = input.periods.at(-1);
  if (!first || !last) throw new Error('a usage chart needs at least one period');
  const fromMs = floorDay(first.start.getTime());
  const toMs = Math.max(ceilDay(last.end.getTime()), fromMs + DAY_MS);
  const nowMs = input.now.getTime();
  const plot = { left: MARGIN.left, right: WIDTH - MARGIN.right, top: MARGIN.top, bottom: HEIGHT - MARGIN.bottom };

  const dayKeys: string[] = [];
  for (let ms = fromMs; ms < toMs; ms += DAY_MS) dayKeys.push(isoDay(ms));
  const todayKey = isoDay(nowMs);

  const known = new Set(MODEL_IDS);
  const others = [...new Set(input.captured.map((c) => c.model).filter((m) => !known.has(m)))].sort();
  const used = new Set(input.captured.filter((c) => c.credits > 0).map((c) => c.model));
  const models = [...MODEL_IDS.filter((m) => used.has(m)), ...others.filter((m) => used.has(m))];

  const balanceOf = new Map(input.balances.map((b) => [b.day, b.available]));
  const days: ChartDay[] = dayKeys.map((day) => {
    const byModel: Record<string, number> = {};
    for (const c of input.captured) if (c.day === day && c.credits > 0) byModel[c.model] = (byModel[c.model] ?? 0) + c.credits;
    const total = Object.values(byModel).reduce((a, b) => a + b, 0);
    const future = day > todayKey;
    return { day, byModel, total, available: future ? null : balanceOf.get(day) ?? null };
  });

  // Scales: time for instants (marks, the line, day ticks), a band per day for the bars, aligned on the
  // time scale (outer padding = half the inner one centres each band on its day), linear for credits.
  const x = scaleUtc().domain([new Date(fromMs), new Date(toMs)]).range([plot.left, plot.right]);
  const band = scaleBand<string>().domain(dayKeys).range([plot.left, plot.right]).paddingInner(0.25).paddingOuter(0.125);
  // At least 10 credits high, so an empty or light chart keeps whole-credit ticks.
  const maxSpent = Math.max(10, ...days.map((d) => d.total));
  const spend = scaleLinear().domain([0, maxSpent]).nice(5).range([plot.bottom, plot.top]);
  const maxBalance = Math.max(10, ...days.map((d) => d.available ?? 0));
  const balance = scaleLinear().domain([0, maxBalance]).nice(5).range([plot.bottom, plot.top]);

  const series = stack<ChartDay, string>().keys(models).value((d, model) => d.byModel[model] ?? 0)(days);
  const bars: ChartBar[] = series.flatMap((s) => s.flatMap((point) => {
    const day = point.data;
    const credits = day.byModel[s.key] ?? 0;
    if (credits === 0) return [];
    const y = spend(point[1]);
    return [{ day: day.day, model: s.key, credits, x: band(day.day)!, y, width: band.bandwidth(), height: spend(point[0]) - y, color: modelColor(s.key) }];
  }));

  const balancePoints = days.flatMap((d, i) => {
    if (d.available === null) return [];
    const endMs = Math.min(fromMs + (i + 1) * DAY_MS, Math.max(nowMs, fromMs + i * DAY_MS));
    return [{ day: d.day, x: x(new Date(endMs)), y: balance(d.available), available: d.available }];
  });
  const balancePath = line<{ x: number; y: number }>().x((p) => p.x).y((p) => p.y)(balancePoints) ?? '';

  const inside = (ms: number) => ms >= fromMs && ms <= toMs;
  return {
    width: WIDTH, height: HEIGHT, plot, from: new Date(fromMs), to: new Date(toMs), days, bars, balancePoints, balancePath,
    models: models.map((model) => ({ model, color: modelColor(model) })),
    spendTicks: spend.ticks(5).filter(Number.isInteger).map((t) => ({ at: spend(t), label: t.toLocaleString('en-US') })),
    balanceTicks: balance.ticks(5).filter(Number.isInteger).map((t) => ({ at: balance(t), label: t.toLocaleString('en-US') })),
    dayTicks: x.ticks(8).map((t) => ({ at: x(t), label: dayLabel.format(t) })),
    periods: input.periods.map((p) => ({ ...p, x0: x(new Date(Math.max(fromMs, p.start.getTime()))), x1: x(new Date(Math.min(toMs, p.end.getTime()))) })),
    marks: input.marks.filter((m) => inside(m.at.getTime())).map((m) => ({ ...m, x: x(m.at) })),
    nowX: inside(nowMs) ? x(input.now) : null,
    totalSpent: days.reduce((sum, d) => sum + d.total, 0),
  };
}

/** What the chart needs of the subscription (ledger/subscriptions.ts SubscriptionRow). */
export interface ChartSubscription {
  interval: Interval;
  status: string;
  current_period_start: Date;
  current_period_end: Date;
  cancel_at_period_end: boolean;
  pause: { starts_at: string | null } | null;
}

/**
 * The chart's two periods and its next refresh. Monthly plans: the current 30-day billing period and the one
 * before it. Yearly plans: the current and previous monthly credit cycle (a yearly plan refreshes every month
 * on the anchor's day; two yearly periods would be 730 bars), counted from the current period's start.
 * Without a subscription, or once it is canceled (its periods are over): the 30 days up to the end of today.
 * The next refresh is the current period's end
 * when a grant will happen there by itself: active, not set to cancel, no pause starting.
 */
export function chartPeriods(sub: ChartSubscription | undefined, now: Date): { periods: ChartPeriod[]; nextRefresh: Date | null } {
  if (!sub || sub.status === 'canceled') {
    const end = ceilDay(now.getTime() + 1);
    return { periods: [{ label: 'Last 30 days', start: new Date(end - 30 * DAY_MS), end: new Date(end) }], nextRefresh: null };
  }
  const start = sub.current_period_start.getTime();
  let current: { start: number; end: number };
  let previousStart: number;
  if (sub.interval === 'month') {
    current = { start, end: sub.current_period_end.getTime() };
    previousStart = start - MONTHLY_PERIOD_MS;
  } else {
    // The monthly cycle of the yearly period holding now (the last one once the period is over).
    let i = 0;
    while (i < 11 && addMonthsClamped(start, i + 1) <= now.getTime()) i += 1;
    current = { start: addMonthsClamped(start, i), end: Math.min(addMonthsClamped(start, i + 1), sub.current_period_end.getTime()) };
    previousStart = addMonthsClamped(start, i - 1);
  }
  const willRefresh = sub.status === 'active' && !sub.cancel_at_period_end && !sub.pause?.starts_at;
  return {
    periods: [
      { label: 'Previous period', start: new Date(previousStart), end: new Date(current.start) },
      { label: 'Current period', start: new Date(current.start), end: new Date(current.end) },
    ],
    nextRefresh: willRefresh ? new Date(current.end) : null,
  };
}
