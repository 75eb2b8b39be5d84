-- Up Migration

-- Issue 15, batched ledger commits: the API gathers concurrent holds and ends (captures, failures, lapses) for
-- a millisecond or two and sends them as ONE call = one transaction = one commit (ledger/commit-batcher.ts,
-- ledger/spend.ts). Each item is today's ledger_hold / ledger_end, called as it is: this migration copies none
-- of their bodies, so a later migration that rewrites them (1732400000025, fewer rows per spend) changes the
-- batched path too. What ledger_batch calls, for whoever changes them: ledger_hold(ws, quote, creation,
-- hold_ttl_ms, default_thresholds, api_key, external_ref, meta) and ledger_end(ws, creation, outcome,
-- reported_credits), both by name with those arguments; keep them (or keep these two call shapes working).

-- One item of a batch: {"op": "hold", "ws", "quote", "creation", "hold_ttl_ms", "api_key", "external_id",
-- "metadata"} or {"op": "end", "ws", "creation", "outcome", "reported"}; its answer is the function's (a
-- creation, or a refusal as data: {error, message, detail}).
CREATE FUNCTION ledger_batch_item(item jsonb, default_thresholds jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF item ->> 'op' = 'hold' THEN
    RETURN ledger_hold(item ->> 'ws', item ->> 'quote', item ->> 'creation', (item ->> 'hold_ttl_ms')::integer,
      default_thresholds, item ->> 'api_key', item ->> 'external_id', coalesce(item -> 'metadata', '{}'));
  ELSIF item ->> 'op' = 'end' THEN
    RETURN ledger_end(item ->> 'ws', item ->> 'creation', item ->> 'outcome', (item ->> 'reported')::integer);
  END IF;
  RAISE EXCEPTION 'ledger_batch: unknown op %', item ->> 'op' USING ERRCODE = 'invalid_parameter_value';
END $$;

-- The automatic top-up's arming rule (1732400000020: armed again once the balance was at or above the threshold
-- since the crossing that disarmed it) reads the balance each TRANSACTION left: auto_top_up_rose takes the last
-- journal entry per xmin. A batch runs several operations of one workspace in one transaction, so a release that
-- lifted the balance over the threshold would hide behind a later hold of the same batch and a top-up would be
-- skipped. ledger_batch calls this between two items of one workspace: the journal's last entry is the balance
-- the operation just run left (or, when it journaled nothing, the one an earlier operation left), i.e. exactly
-- what auto_top_up_rose finds when each operation is its own transaction; a disarmed setting that sees it at or
-- above its threshold is armed now, as the lazy rule would at the next crossing. Rules per operation, not per
-- transaction: batched and unbatched record the same top-ups. No setting: one primary-key lookup, nothing else.
CREATE FUNCTION auto_top_up_operation_ended(ws text) RETURNS void LANGUAGE sql AS $$
  UPDATE auto_top_up_settings s SET armed = true
   WHERE s.workspace_id = ws AND NOT s.armed
     AND EXISTS (SELECT 1 FROM (SELECT e.id, e.balance_after FROM ledger_entries e WHERE e.workspace_id = ws
                                ORDER BY e.id DESC LIMIT 1) last
                 WHERE last.id > s.seen_entry_id AND last.balance_after >= s.threshold)
$$;

-- A batch of holds and ends in one transaction; the answers come back as a jsonb array in the items' order.
-- Items run in the order of their workspace id (then as given): every batch takes its workspace locks
-- (ledger_lock_workspace) in one global order, so two batches never deadlock on each other, and two items of one
-- workspace run in the order their callers sent them. Refusals are answers (data), not errors.
-- isolate = false: no savepoint; an unexpected error in any item aborts the whole call (nothing commits) and
-- the caller sends the batch again with isolate = true, where each item runs in its own subtransaction
-- (BEGIN … EXCEPTION) and an error becomes that item's answer, {"fault": SQLSTATE, "message"}, undoing only
-- that item. Savepoints cost a subtransaction per item (and more than 64 of them in one transaction overflow
-- every backend's subtransaction cache), so they are paid only on that rare second call.
CREATE FUNCTION ledger_batch(items jsonb, default_thresholds jsonb, isolate boolean DEFAULT false)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it record;
  previous_ws text;
  answers jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(items)]);
BEGIN
  FOR it IN
    SELECT e.item, e.i, e.item ->> 'ws' AS ws FROM jsonb_array_elements(items) WITH ORDINALITY AS e(item, i)
    ORDER BY e.item ->> 'ws' COLLATE "C", e.i
  LOOP
    -- The item before ended an operation of this same workspace inside this transaction: let the automatic
    -- top-up see the balance it left, as one call per operation would (auto_top_up_operation_ended).
    IF it.ws = previous_ws THEN
      PERFORM auto_top_up_operation_ended(it.ws);
    END IF;
    previous_ws := it.ws;
    IF isolate THEN
      BEGIN
        answers[it.i] := ledger_batch_item(it.item, default_thresholds);
      EXCEPTION WHEN OTHERS THEN
        answers[it.i] := jsonb_build_object('fault', SQLSTATE, 'message', SQLERRM);
      END;
    ELSE
      answers[it.i] := ledger_batch_item(it.item, default_thresholds);
    END IF;
  END LOOP;
  RETURN to_jsonb(answers);
END $$;

-- Down Migration
DROP FUNCTION ledger_batch(jsonb, jsonb, boolean);
DROP FUNCTION ledger_batch_item(jsonb, jsonb);
DROP FUNCTION auto_top_up_operation_ended(text);
