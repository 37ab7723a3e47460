"""A job's reservation as its row keeps it, so whichever worker finishes the job settles or releases it."""
from __future__ import annotations

import orjson

from server.accounting.holds import Hold
from server.database.job_records import JobRow
from server.database.records import ApiKey, SpendHold


def spend_json(hold: Hold) -> str:
    """The money part of `hold` as JSON ('' for a key without a monthly cap)."""
    spend = hold.spend
    if spend is None:
        return ""
    return orjson.dumps({"id": spend.id, "month": spend.month, "micros": spend.micros,
                         "expires_at": spend.expires_at}).decode()


def hold_of(row: JobRow, key: ApiKey) -> Hold:
    """The reservation made when `row` was admitted (the limiter's by id; the money's by its hold row)."""
    spend = None
    if row.spend_hold:
        saved = orjson.loads(row.spend_hold)
        spend = SpendHold(id=saved["id"], key_id=key.id, month=saved["month"], micros=int(saved["micros"]),
                          expires_at=int(saved["expires_at"]))
    return Hold(key, row.reservation_id, spend=spend)
