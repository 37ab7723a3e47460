-- No query reads spend_holds by (key_id, month): a hold is settled by its id (the primary key) and
-- the sweep takes holds by expires_at from a table that only holds reservations still in flight.
-- The index was written and deleted from twice for every capped request, for nothing.
DROP INDEX IF EXISTS spend_holds_key_month;
