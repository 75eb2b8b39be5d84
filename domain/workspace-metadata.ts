/**
 * Workspace metadata (SPEC §10, issue 12): string → string pairs the studio attaches to a workspace, with
 * Stripe's limits. Pure rules; the API validates shapes with zod and the ledger merges under a row lock.
 */
export const METADATA_LIMITS = { keys: 50, keyLength: 40, valueLength: 500 } as const;

export type Metadata = Record<string, string>;
/** An update: a string sets a key; null or '' removes it (Stripe's convention). */
export type MetadataPatch = Record<string, string | null>;

/** The metadata after a patch: set keys replaced, removed keys gone, others kept. */
export function mergeMetadata(current: Metadata, patch: MetadataPatch): Metadata {
  const merged: Metadata = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || value === '') delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** Why metadata is over the limits (a reason naming the limit), or undefined when it is within them. */
export function metadataProblem(metadata: MetadataPatch): string | undefined {
  const keys = Object.keys(metadata);
  if (keys.length > METADATA_LIMITS.keys) return `at most ${METADATA_LIMITS.keys} keys (${keys.length} given)`;
  const longKey = keys.find((key) => key.length === 0 || key.length > METADATA_LIMITS.keyLength);
  if (longKey !== undefined) return `keys are 1 to ${METADATA_LIMITS.keyLength} characters (${JSON.stringify(longKey.slice(0, 60))})`;
  const longValue = keys.find((key) => (metadata[key]?.length ?? 0) > METADATA_LIMITS.valueLength);
  if (longValue !== undefined) return `values are at most ${METADATA_LIMITS.valueLength} characters (key ${JSON.stringify(longValue)})`;
  return undefined;
}
