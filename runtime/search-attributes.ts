import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';

const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;
const indexedType = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
} as const;
const cliType = { KEYWORD: 'Keyword', DATETIME: 'Datetime', BOOL: 'Bool' } as const;

type Kind = keyof typeof indexedType;

/** `--search-attribute Name=Type` flags for `temporal server start-dev`. */
export function searchAttributeFlags(): string[] {
  return ALL_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${cliType[key.type as Kind]}`]);
}

/** Registers the search attributes through the operator API (self-hosted clusters, the test server). */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  // The time-skipping test server cannot list search attributes (gRPC UNIMPLEMENTED) but can add them.
  const existing = await connection.operatorService.listSearchAttributes({ namespace }).catch((error: { code?: number }) => {
    if (error.code === 12) return { customAttributes: {} };
    throw error;
  });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = ALL_SEARCH_ATTRIBUTES.filter((key) => !known.has(key.name));
  if (missing.length === 0) return;
  const searchAttributes = Object.fromEntries(missing.map((key) => [key.name, indexedType[key.type as Kind]]));
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
}
