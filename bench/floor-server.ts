/**
 * HTTP floors: the API's framework (Hono on @hono/node-server, one Node process) with handlers that do
 * nothing (`/empty`) or one trivial database round trip through postgres.js (`/one-query`, SELECT 1 on
 * the app's database with the API's pool size). What autocannon gets from them on this machine bounds
 * what any route of the API can reach.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createSql } from '../ledger/db.js';

const sql = createSql(process.env.DATABASE_URL!);
const app = new Hono();
app.get('/empty/v1/credits', (c) => c.json({ available: 0, held: 0, lots: [] }));
app.get('/one-query/v1/credits', async (c) => {
  const [row] = await sql<{ one: number }[]>`SELECT 1 AS one`;
  return c.json({ available: row!.one, held: 0, lots: [] });
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' }, () => console.log('ready'));
