/**
 * What a creation was, in a few words for people (SPEC §11: the billing page says what each creation was):
 * "Image · high · ×2 · key "Ana"", "Video · veo-2 · 10 s · key key_3f…". Pure.
 */
import { COST_TABLE } from './costs.js';

/** The parts of a creation the label reads (ledger/spend.ts CreationView). */
export interface LabelledCreation {
  model: string | null;
  request: { model: string; count?: number; resolution?: 'standard' | 'high'; duration_s?: number } | null;
  api_key: { id: string; name: string | null } | null;
}

/** The label's parts in order: kind (or the model when unknown to the cost table), size, count, key. */
export function creationLabelParts(creation: LabelledCreation): string[] {
  const request = creation.request;
  const model = request?.model ?? creation.model;
  const parts: string[] = [];
  const cost = model ? COST_TABLE[model] : undefined;
  if (!request || !model) {
    parts.push(model ?? 'Creation');
  } else if (cost?.kind === 'image') {
    parts.push('Image', request.resolution ?? 'standard');
  } else if (cost?.kind === 'video') {
    parts.push('Video', model);
    if (request.duration_s !== undefined) parts.push(`${request.duration_s} s`);
  } else {
    parts.push(model);
  }
  if (request?.count !== undefined && request.count !== 1) parts.push(`×${request.count}`);
  if (creation.api_key) parts.push(`key ${creation.api_key.name === null ? creation.api_key.id : `"${creation.api_key.name}"`}`);
  return parts;
}

/** The parts joined by " · ". */
export function creationLabel(creation: LabelledCreation): string {
  return creationLabelParts(creation).join(' · ');
}
