/**
 * Reads what /billing's usage chart needs (SPEC §11): the periods from the subscription, credits captured
 * per day per model and the closing balances from the journal, the marks from the live lots. The router
 * (index.ts) calls it; the chart itself is pure (usage-chart.ts).
 */
import { DAY_MS } from '../../../domain/calendar.js';
import type { BalanceView } from '../../../ledger/credits.js';
import type { Sql } from '../../../ledger/db.js';
import type { SubscriptionRow } from '../../../ledger/subscriptions.js';
import { capturedPerDayPerModel } from '../../../ledger/usage.js';
import { closingBalancePerDay } from '../../../ledger/usage-chart.js';
import { type ChartMarkInput, chartPeriods, type UsageChartInput } from './usage-chart.js';

/**
 * The chart's input for a workspace: its current and previous period (chartPeriods), captures and closing
 * balances over them (today's closing balance is `balance.available`, the figure the page shows: the journal
 * may not have an expiry due at this instant yet), the next refresh and each live lot's expiry inside them.
 */
export async function loadUsageChart(sql: Sql, workspaceId: string, subscription: SubscriptionRow | undefined, balance: BalanceView): Promise<UsageChartInput> {
  const now = new Date(balance.as_of);
  const { periods, nextRefresh } = chartPeriods(subscription, now);
  const from = periods[0]!.start;
  const to = periods.at(-1)!.end;
  const until = now < to ? now : new Date(to.getTime() - 1);
  const [captured, balances] = await Promise.all([
    capturedPerDayPerModel(sql, workspaceId, from, to),
    now >= from ? closingBalancePerDay(sql, workspaceId, new Date(Math.floor(from.getTime() / DAY_MS) * DAY_MS), until) : Promise.resolve([]),
  ]);
  const today = now.toISOString().slice(0, 10);
  const closing = balances.flatMap((b) => (b.day === today ? [{ day: b.day, available: balance.available }]
    : b.available === null ? [] : [{ day: b.day, available: b.available }]));
  const marks: ChartMarkInput[] = [];
  if (nextRefresh) marks.push({ kind: 'refresh', at: nextRefresh, label: 'Next refresh' });
  for (const lot of balance.lots) {
    if (!lot.expires_at || lot.remaining <= 0 || lot.frozen) continue;
    marks.push({ kind: 'expiry', at: new Date(lot.expires_at), label: 'Expiry', credits: lot.remaining, lot: lot.id });
  }
  return { periods, now, captured, balances: closing, marks };
}
