-- No query looks a ledger row up by request_id (reports group by key and day, the console pages by
-- created_at), yet every ledger insert paid for one more b-tree of random text keys.
DROP INDEX IF EXISTS usage_ledger_request;
