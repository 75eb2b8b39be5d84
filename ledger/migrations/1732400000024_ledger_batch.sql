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
  answers jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(items)]);
BEGIN
  FOR it IN
    SELECT e.item, e.i FROM jsonb_array_elements(items) WITH ORDINALITY AS e(item, i)
    ORDER BY e.item ->> 'ws' COLLATE "C", e.i
  LOOP
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
