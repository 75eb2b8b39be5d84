import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { HISTORIES_DIR } from '../helpers/clock-harness.js';

/**
 * Issue 15 (renewal storm, n = 600, sticky cache 100, loaded machine). The first charge's local activities ran
 * close to the 10 s workflow task timeout, so the worker heartbeated the task (events 4 and 10-12: no timeout,
 * a new task handed back with the completion). The `firstPaymentSettled` Update arrived with that task while
 * the publication's recordSubscription (local activity 6) was still running: live it was answered in its own
 * activation and the search-attribute upsert came in a later one (history: marker 13, accepted 14, completed 15,
 * upsert 16). After an eviction the replay resolves local activity 6 from its marker in the same activation as
 * the Update, and the upsert came before the completion: `[TMPRL1100] UpsertWorkflowSearchAttributesMachine
 * does not handle HistoryEvent(id: 15, WorkflowExecutionUpdateCompleted)`. The publication now upserts at the
 * activation's next condition round (workflows/publication.ts), after the Update's answer, in both groupings.
 * The same file is in test/histories, so replay.test.ts keeps it with the other recorded histories.
 */
describe('replay of the storm history with an Update completed after a local-activity heartbeat', () => {
  it('replays without non-determinism', async () => {
    const file = join(HISTORIES_DIR, 'update-completed-after-local-activity-heartbeat.json');
    const history = JSON.parse(readFileSync(file, 'utf8'));
    await expect(Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      history,
      'update-completed-after-local-activity-heartbeat',
    )).resolves.toBeUndefined();
  });
});
