-- The operator console (issue 13). The gallery shows what was asked and the images that answered it:
-- the prompt (cut to 4000 characters, control characters replaced) and the stored image names as a
-- JSON list of "img_….png" ('' when none were stored, e.g. b64_json responses).
ALTER TABLE usage_ledger ADD COLUMN prompt TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_ledger ADD COLUMN images TEXT NOT NULL DEFAULT '';
-- Recent generations are listed newest first, page by page on (created_at, id).
CREATE INDEX usage_ledger_created ON usage_ledger (created_at, id);

-- Every admin action: who (a fingerprint of the admin token, never the token), what, on what, when,
-- and from which client address.
CREATE TABLE admin_audit (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    address     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    request_id  TEXT NOT NULL
);
CREATE INDEX admin_audit_at ON admin_audit (at, id);
