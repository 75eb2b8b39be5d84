import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../helpers/database.js';

/** Migration 1732400000017 (credit notes, disputes): `dispute_opened` joins the kinds allowed, and its down migration undoes it. */
describe('credit notes and disputes migration', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  const kinds = async () => (await db.sql<{ def: string }[]>`
    SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'notifications_kind_check'`)[0]!.def;

  it('adds dispute_opened to the notification kinds, keeping the others, and goes down cleanly', async () => {
    const up = await kinds();
    for (const kind of ['dispute_opened', 'low_balance', 'lot_expiring', 'payment_failed', 'downgrade_applied']) expect(up).toContain(`'${kind}'`);
    await db.sql`INSERT INTO workspaces (id, name) VALUES ('ws_migration', 'm')`;
    await db.sql`INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at) VALUES ('ws_migration', 'dispute_opened', 'k1', '{}', now())`;
    await expect(db.sql`INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at) VALUES ('ws_migration', 'nonsense', 'k2', '{}', now())`).rejects.toThrow(/notifications_kind_check/);

    const dir = join(dirname(fileURLToPath(import.meta.url)), '../../ledger/migrations');
    const migrations = (await db.sql<{ name: string }[]>`SELECT name FROM schema_migrations ORDER BY run_on DESC, id DESC`).map((r) => r.name);
    const after = migrations.indexOf('1732400000017_credit_notes_disputes');
    expect(after).toBeGreaterThanOrEqual(0);
    await runner({ databaseUrl: db.url, dir, direction: 'down', migrationsTable: 'schema_migrations', count: after + 1, log: () => {} });
    const down = await kinds();
    expect(down).not.toContain('dispute_opened');
    expect(down).toContain(`'low_balance'`);
    expect(await db.sql`SELECT to_regclass('credit_notes') AS t`).toEqual([{ t: null }]);
  });
});
