import postgres from 'postgres';

export type Sql = postgres.Sql<{ bigint: number }>;

/**
 * One postgres.js instance per process. int8 columns (ids, cents) are parsed as numbers: every value
 * we store stays far below 2^53.
 */
export function createSql(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    types: {
      bigint: { to: 20, from: [20], parse: (value: string) => Number(value), serialize: (value: number) => String(value) },
    },
  });
}
