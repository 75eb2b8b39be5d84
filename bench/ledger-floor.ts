/**
 * The ledger floor: the spend path's two ledger transactions (holdForQuote, then endCreation — the very
 * functions the API's routes call) driven directly, without HTTP, from a process of their own with the
 * API's pool size. Forked by bench/spend.ts; speaks over IPC. What it reaches bounds the HTTP spend path.
 */
import { createSql } from '../ledger/db.js';
import { createQuote, endCreation, holdForQuote } from '../ledger/spend.js';

export type FloorCommand =
  | { type: 'prepare'; url: string; workspaces: string[]; quotesPerWorkspace: number; credits: number; request: object }
  | { type: 'go'; clients: number; seconds: number };

export type FloorReply = { type: 'ready' } | { type: 'done'; spends: number; seconds: number } | { type: 'error'; message: string };

let sql: ReturnType<typeof createSql> | undefined;
const queue: { workspaceId: string; quoteId: string }[] = [];
let credits = 0;

async function prepare(cmd: Extract<FloorCommand, { type: 'prepare' }>): Promise<void> {
  sql = createSql(cmd.url); // the API's pool size (10)
  credits = cmd.credits;
  for (let round = 0; round < cmd.quotesPerWorkspace; round++) {
    // Round-robin over the workspaces, as the HTTP load generator does.
    const quotes = await Promise.all(cmd.workspaces.map((ws) => createQuote(sql!, ws, cmd.request, cmd.credits)));
    quotes.forEach((q, i) => queue.push({ workspaceId: cmd.workspaces[i]!, quoteId: q.quote_id }));
  }
}

async function go(cmd: Extract<FloorCommand, { type: 'go' }>): Promise<{ spends: number; seconds: number }> {
  let spends = 0;
  let next = 0;
  const started = performance.now();
  const until = started + cmd.seconds * 1000;
  await Promise.all(Array.from({ length: cmd.clients }, async () => {
    while (performance.now() < until && next < queue.length) {
      const { workspaceId, quoteId } = queue[next++]!;
      const { creation } = await holdForQuote(sql!, workspaceId, quoteId);
      await endCreation(sql!, workspaceId, creation.id, { status: 'succeeded', reported: credits });
      spends += 1;
    }
  }));
  if (next >= queue.length) throw new Error('the ledger floor ran out of quotes');
  return { spends, seconds: (performance.now() - started) / 1000 };
}

process.on('message', (cmd: FloorCommand) => {
  const reply = (r: FloorReply) => process.send!(r);
  const work = cmd.type === 'prepare'
    ? prepare(cmd).then(() => reply({ type: 'ready' }))
    : go(cmd).then((r) => reply({ type: 'done', ...r }));
  work.catch((error: unknown) => reply({ type: 'error', message: String(error) }));
});
process.on('disconnect', () => {
  void sql?.end({ timeout: 1 }).finally(() => process.exit(0));
});
