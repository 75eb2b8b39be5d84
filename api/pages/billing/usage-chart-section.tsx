/**
 * The "Usage" part of /billing (SPEC §11, issue 13): credits spent per day in the current and previous period,
 * stacked by model, the available balance as a line, the next refresh and each live lot's expiry marked. A
 * server-rendered SVG (no script) whose geometry comes from usage-chart.ts, with a text alternative: the SVG's
 * <title>/<desc> summary, and a visually hidden table of every day's numbers with a list of the marks. No I/O.
 */
import { DAY_MS } from '../../../domain/calendar.js';
import { readableDate, When } from '../site.js';
import { plural } from './format.js';
import { buildUsageChart, type ChartMark, type UsageChart, type UsageChartInput } from './usage-chart.js';

const INK = '#23211d';
const MUTED = '#6b6558';
const LINE = '#e4e0d8';
const REFRESH = '#2f5d50';
const EXPIRY = '#8a3b12';

const dayName = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });

/** A mark's words: "Next refresh" or "400 credits expire (lot_3)". */
function markText(mark: ChartMark | UsageChartInput['marks'][number]): string {
  return mark.kind === 'refresh' ? mark.label : `${plural(mark.credits ?? 0, 'credit')} expire${mark.lot ? ` (${mark.lot})` : ''}`;
}

/** Credits spent in each period, by the day's start (a period starting mid-day takes that day from its start). */
function periodTotals(chart: UsageChart): { label: string; start: Date; end: Date; spent: number }[] {
  return chart.periods.map((p) => {
    const from = Math.floor(p.start.getTime() / DAY_MS) * DAY_MS;
    const spent = chart.days
      .filter((d) => { const ms = Date.parse(`${d.day}T00:00:00Z`); return ms >= from && ms < p.end.getTime(); })
      .reduce((sum, d) => sum + d.total, 0);
    return { label: p.label, start: p.start, end: p.end, spent };
  });
}

/** The summary read out for the SVG (its <desc>), and shown under it. */
function summary(chart: UsageChart, input: UsageChartInput): string {
  const parts = periodTotals(chart).map((p) => `${p.label} (${readableDate(p.start)} to ${readableDate(p.end)}): ${plural(p.spent, 'credit')} spent.`);
  const byModel = chart.models.map((m) => `${m.model} ${chart.days.reduce((sum, d) => sum + (d.byModel[m.model] ?? 0), 0).toLocaleString('en-US')}`);
  if (byModel.length > 0) parts.push(`By model: ${byModel.join(', ')}.`);
  const latest = chart.days.filter((d) => d.available !== null).at(-1);
  if (latest) parts.push(`Available now: ${plural(latest.available!, 'credit')}.`);
  for (const mark of input.marks) parts.push(`${markText(mark)} on ${readableDate(mark.at)}.`);
  return parts.join(' ');
}

/** Marks at one x share a line; their labels join ("Next refresh · 280 credits expire"). */
function groupedMarks(marks: ChartMark[]): { x: number; kinds: Set<string>; text: string }[] {
  const groups = new Map<number, ChartMark[]>();
  for (const m of marks) {
    const key = Math.round(m.x * 10) / 10;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return [...groups.entries()].map(([x, ms]) => ({ x, kinds: new Set(ms.map((m) => m.kind)), text: ms.map(markText).join(' · ') }));
}

function ChartSvg(props: { chart: UsageChart; desc: string }) {
  const { chart, desc } = props;
  const { plot } = chart;
  const mid = (plot.left + plot.right) / 2;
  return (
    <svg viewBox={`0 0 ${chart.width} ${chart.height}`} width="100%" role="img" aria-labelledby="usage-chart-title usage-chart-desc"
      font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="11" id="usage-svg">
      <title id="usage-chart-title">Credits spent per day from {readableDate(chart.from)} to {readableDate(chart.to)}, by model, with the available balance</title>
      <desc id="usage-chart-desc">{desc}</desc>
      <g class="periods">
        {chart.periods.map((p, i) => (
          <g class="period" data-start={p.start.toISOString()}>
            {i % 2 === 0 && chart.periods.length > 1 ? <rect x={p.x0} y={plot.top} width={p.x1 - p.x0} height={plot.bottom - plot.top} fill="#f3f0ea" /> : ''}
            <text x={(p.x0 + p.x1) / 2} y="12" text-anchor="middle" fill={MUTED}>{p.label}</text>
          </g>
        ))}
      </g>
      <g class="grid" stroke={LINE}>
        {chart.spendTicks.map((t) => <line x1={plot.left} x2={plot.right} y1={t.at} y2={t.at} />)}
      </g>
      <g class="axis spend" fill={MUTED} text-anchor="end">
        {chart.spendTicks.map((t) => <text x={plot.left - 6} y={t.at + 4}>{t.label}</text>)}
        <text x="4" y="12" text-anchor="start">Spent</text>
      </g>
      <g class="axis balance" fill={INK} text-anchor="start">
        {chart.balanceTicks.map((t) => <text x={plot.right + 6} y={t.at + 4}>{t.label}</text>)}
        <text x={chart.width - 4} y="12" text-anchor="end">Balance</text>
      </g>
      <g class="axis days" fill={MUTED} text-anchor="middle">
        <line x1={plot.left} x2={plot.right} y1={plot.bottom} y2={plot.bottom} stroke={MUTED} />
        {chart.dayTicks.map((t) => <text x={t.at} y={plot.bottom + 18}>{t.label}</text>)}
      </g>
      <g class="bars">
        {chart.bars.map((b) => (
          <rect class="bar" x={b.x} y={b.y} width={b.width} height={b.height} fill={b.color}
            data-day={b.day} data-model={b.model} data-credits={String(b.credits)}>
            <title>{b.day}: {plural(b.credits, 'credit')} on {b.model}</title>
          </rect>
        ))}
      </g>
      {chart.totalSpent === 0 ? <text x={mid} y={(plot.top + plot.bottom) / 2} text-anchor="middle" fill={MUTED} font-size="14">No credits spent in these periods yet</text> : ''}
      {chart.balancePath ? <path class="balance-line" d={chart.balancePath} fill="none" stroke={INK} stroke-width="2" stroke-linejoin="round" /> : ''}
      {chart.balancePoints.length > 0 ? (() => {
        const p = chart.balancePoints.at(-1)!;
        return <circle class="balance-now" cx={p.x} cy={p.y} r="3.5" fill={INK}><title>Available now: {plural(p.available, 'credit')}</title></circle>;
      })() : ''}
      {chart.nowX !== null ? <line class="mark-now" x1={chart.nowX} x2={chart.nowX} y1={plot.top} y2={plot.bottom} stroke={MUTED} stroke-dasharray="2 3" /> : ''}
      <g class="marks">
        {groupedMarks(chart.marks).map((m) => {
          const color = m.kinds.has('refresh') ? REFRESH : EXPIRY;
          const anchor = m.x > plot.right - 80 ? 'end' : m.x < plot.left + 80 ? 'start' : 'middle';
          return (
            <g class={`mark ${[...m.kinds].map((k) => `mark-${k}`).join(' ')}`} data-x={String(m.x)}>
              <line x1={m.x} x2={m.x} y1={plot.top - 4} y2={plot.bottom} stroke={color} stroke-width="1.5" stroke-dasharray={m.kinds.has('refresh') ? '' : '5 3'} />
              <text x={m.x} y="26" text-anchor={anchor} fill={color} font-weight="600">{m.text}</text>
            </g>
          );
        })}
      </g>
    </svg>
  );
}

/** The legend: each model's color, the balance line and the marks. */
function Legend(props: { chart: UsageChart }) {
  return (
    <figcaption class="legend" aria-hidden="true">
      {props.chart.models.map((m) => <span><i style={`background:${m.color}`} />{m.model}</span>)}
      <span><i class="line" style={`background:${INK}`} />available balance</span>
      <span><i class="line" style={`background:${REFRESH}`} />next refresh</span>
      <span><i class="line dashed" style={`border-color:${EXPIRY}`} />credits expire</span>
      <span><i class="line dashed" style={`border-color:${MUTED}`} />today</span>
    </figcaption>
  );
}

/** Usage on /billing: the chart and its text alternative. */
export function UsageChartSection(props: { usage: UsageChartInput }) {
  const chart = buildUsageChart(props.usage);
  const desc = summary(chart, props.usage);
  const shown = chart.days.filter((d) => d.available !== null || d.total > 0);
  return (
    <>
      <h2 id="usage">Usage</h2>
      <p>
        Credits spent each day {chart.periods.length > 1 ? 'of your current and previous period' : 'of the last 30 days'}, by
        model, with your available balance at the end of each day.
      </p>
      <figure class="usage-chart" id="usage-chart" data-total={String(chart.totalSpent)}>
        <ChartSvg chart={chart} desc={desc} />
        <Legend chart={chart} />
      </figure>
      {chart.totalSpent === 0 ? <p class="muted" id="usage-empty">No credits spent in these periods yet. Creations you run will appear here by day and model.</p> : ''}
      <p class="muted" id="usage-summary" aria-hidden="true">{desc}</p>
      <table class="sr-only" id="usage-table">
        <caption>Credits spent per day by model, and the available balance at the end of each day</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {chart.models.map((m) => <th scope="col" class="num">{m.model}</th>)}
            <th scope="col" class="num">Total spent</th>
            <th scope="col" class="num">Available at day's end</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((d) => (
            <tr data-day={d.day}>
              <th scope="row"><time datetime={d.day}>{dayName.format(new Date(`${d.day}T00:00:00Z`))}</time></th>
              {chart.models.map((m) => <td class="num">{(d.byModel[m.model] ?? 0).toLocaleString('en-US')}</td>)}
              <td class="num total">{d.total.toLocaleString('en-US')}</td>
              <td class="num available">{d.available === null ? '' : d.available.toLocaleString('en-US')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <ul class="sr-only" id="usage-marks">
        {props.usage.marks.map((m) => <li data-kind={m.kind}>{markText(m)}: <When at={m.at} /></li>)}
      </ul>
    </>
  );
}
