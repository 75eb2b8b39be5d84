/** The renewal storm's baseline: the smallest real workflow, one (regular) activity and done. */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './trivial-activities.js';

const { touch } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

export async function trivialWorkflow(n: number): Promise<number> {
  return touch(n);
}
