/**
 * The load generator: a separate process (forked by bench/run.ts) that drives the API on 127.0.0.1 with
 * autocannon and answers each command over IPC. It holds the prepared quotes, so no quote is used twice
 * across runs.
 *
 * Spend: each autocannon connection loops POST /v1/creations {quote_id} → POST /v1/creations/{id}/complete,
 * taking the next workspace round-robin for every pair (many workspaces, so the API's per-workspace
 * limiter of 200 requests/s is never what is measured). One spend = a hold answered 201 whose capture
 * was answered 200.
 *
 * Paced runs: autocannon paces per connection in one-second windows that all open at the same instant,
 * which turns "70% of peak" into bursts at full speed followed by idle time. So a paced run is split into
 * `lanes` autocannon instances, each with its share of the rate and connections, started 1/lanes of a
 * second apart: the windows interleave and arrivals spread over the second.
 */
import autocannon, { type Request } from 'autocannon';

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  seconds: number;
  /** Completed hold + capture pairs (spend runs). */
  spends: number;
  /** 2xx responses. */
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Pairs that found their workspace's quote pool empty (must be 0: the parent keeps the pools stocked). */
  dry: number;
  latency: { all: LatencySummary; hold?: LatencySummary; capture?: LatencySummary };
  quotesLeft: { min: number; total: number };
}

export type Command =
  | { type: 'init'; url: string }
  | { type: 'quotes'; pools: { key: string; credits: number; quotes: string[] }[] }
  | { type: 'spend'; connections: number; seconds: number; spendsPerSecond?: number; lanes?: number }
  | { type: 'balance'; connections: number; seconds: number; keys: string[]; url?: string; prefix?: string }
  | { type: 'exit' };

export type Reply = { type: 'result'; result: LoadResult } | { type: 'error'; message: string };

interface Pool {
  key: string;
  credits: number;
  quotes: string[];
}

interface PairContext {
  key?: string;
  credits?: number;
  creation?: string;
  fresh?: boolean;
}

let url = '';
const pools: Pool[] = [];
const byKey = new Map<string, Pool>();
let cursor = 0;

function summary(values: number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN);
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.length ? sorted[sorted.length - 1]! : NaN };
}

function quotesLeft(): LoadResult['quotesLeft'] {
  const counts = pools.map((p) => p.quotes.length);
  return { min: counts.length ? Math.min(...counts) : 0, total: counts.reduce((a, b) => a + b, 0) };
}

/** Runs autocannon instances (lanes) started `staggerMs` apart, collecting every response's latency by kind. */
async function drive<Context>(
  target: string,
  lanes: { connections: number; overallRate?: number }[],
  seconds: number,
  staggerMs: number,
  requests: () => Request<Context>[],
  kindOf: () => string,
): Promise<Omit<LoadResult, 'spends' | 'dry' | 'quotesLeft'>> {
  const latencies = new Map<string, number[]>([['all', []]]);
  const statuses: Record<string, number> = {};
  let ok = 0;
  const started = performance.now();
  const done = await Promise.all(lanes.map(async (lane, i) => {
    await new Promise((resolve) => setTimeout(resolve, i * staggerMs));
    const instance = autocannon<Context>({
      url: target, connections: lane.connections, duration: seconds, timeout: 30, requests: requests(),
      ...(lane.overallRate ? { overallRate: lane.overallRate } : {}),
    });
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status < 200 || status >= 300) return;
      ok += 1;
      latencies.get('all')!.push(ms);
      const kind = kindOf();
      if (!latencies.has(kind)) latencies.set(kind, []);
      latencies.get(kind)!.push(ms);
    });
    return instance;
  }));
  const elapsed = (performance.now() - started) / 1000;
  const latency: LoadResult['latency'] = { all: summary(latencies.get('all')!) };
  for (const [kind, values] of latencies) if (kind !== 'all') (latency as Record<string, LatencySummary>)[kind] = summary(values);
  return {
    // Staggered lanes overlap for `seconds`; the edges (one stagger span) run below the target rate.
    seconds: lanes.length > 1 ? seconds : elapsed,
    ok,
    statuses,
    errors: done.reduce((sum, r) => sum + r.errors, 0),
    timeouts: done.reduce((sum, r) => sum + r.timeouts, 0),
    latency,
  };
}

function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

async function spend(cmd: Extract<Command, { type: 'spend' }>): Promise<LoadResult> {
  let spends = 0;
  let dry = 0;
  let lastKind = 'hold';
  const requests = (): Request<PairContext>[] => [
    {
      method: 'POST',
      path: '/v1/creations',
      setupRequest: (request, context) => {
        const pool = pools[cursor++ % pools.length]!;
        let quote = pool.quotes.pop();
        context.fresh = quote !== undefined;
        if (quote === undefined) {
          // Never expected: replays a used quote (answered 200, not counted) rather than stopping the run.
          dry += 1;
          quote = 'quote_dry';
        }
        context.key = pool.key;
        context.credits = pool.credits;
        return {
          ...request,
          headers: { authorization: `Bearer ${pool.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ quote_id: quote }),
        };
      },
      onResponse: (status, body, context) => {
        lastKind = 'hold';
        context.creation = status === 201 ? (JSON.parse(body) as { id: string }).id : undefined;
      },
    },
    {
      method: 'POST',
      setupRequest: (request, context) => (context.creation ? {
        ...request,
        path: `/v1/creations/${context.creation}/complete`,
        headers: { authorization: `Bearer ${context.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ credits: context.credits }),
      } : null),
      onResponse: (status, _body, context) => {
        lastKind = 'capture';
        if (status === 200 && context.fresh) spends += 1;
      },
    },
  ];
  let lanes: { connections: number; overallRate?: number }[];
  let staggerMs = 0;
  if (cmd.spendsPerSecond) {
    const count = Math.max(1, Math.min(cmd.lanes ?? 10, cmd.connections));
    const rates = split(Math.round(cmd.spendsPerSecond * 2), count);
    lanes = split(cmd.connections, count).map((connections, i) => ({ connections, overallRate: rates[i]! }));
    staggerMs = 1000 / count;
  } else {
    lanes = [{ connections: cmd.connections }];
  }
  const result = await drive(url, lanes, cmd.seconds, staggerMs, requests, () => lastKind);
  return { ...result, spends, dry, quotesLeft: quotesLeft() };
}

async function balance(cmd: Extract<Command, { type: 'balance' }>): Promise<LoadResult> {
  let next = 0;
  const requests = (): Request<Record<string, never>>[] => [{
    method: 'GET',
    path: `${cmd.prefix ?? ''}/v1/credits`,
    setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${cmd.keys[next++ % cmd.keys.length]}` } }),
  }];
  const result = await drive(local(cmd.url ?? url), [{ connections: cmd.connections }], cmd.seconds, 0, requests, () => 'read');
  return { ...result, spends: 0, dry: 0, quotesLeft: quotesLeft() };
}

function local(target: string): string {
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(target)) throw new Error(`the load generator only targets 127.0.0.1, not ${target}`);
  return target;
}

async function handle(cmd: Command): Promise<LoadResult | undefined> {
  switch (cmd.type) {
    case 'init':
      url = local(cmd.url);
      return undefined;
    case 'quotes':
      for (const incoming of cmd.pools) {
        let pool = byKey.get(incoming.key);
        if (!pool) {
          pool = { key: incoming.key, credits: incoming.credits, quotes: [] };
          byKey.set(pool.key, pool);
          pools.push(pool);
        }
        pool.quotes.push(...incoming.quotes);
      }
      return undefined;
    case 'spend':
      return spend(cmd);
    case 'balance':
      return balance(cmd);
    case 'exit':
      process.exit(0);
  }
}

process.on('message', (cmd: Command) => {
  handle(cmd).then(
    (result) => process.send!({ type: 'result', result: result ?? ({ quotesLeft: quotesLeft() } as LoadResult) } satisfies Reply),
    (error: unknown) => process.send!({ type: 'error', message: String(error) } satisfies Reply),
  );
});
process.on('disconnect', () => process.exit(0));
