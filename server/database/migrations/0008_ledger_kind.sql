-- What kind of request each ledger row is: a generation, an edit or a variation (edits are billed
-- at the model's price, and reports and the console tell them apart).
ALTER TABLE usage_ledger ADD COLUMN kind TEXT NOT NULL DEFAULT 'generation';
