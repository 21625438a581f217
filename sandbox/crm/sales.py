"""Sales' quote revision, as the ``ReviseQuote`` action does it.

``POST ReviseQuote`` ``{"QuoteId": "<guid>", "ColumnSet": {"AllColumns": true}}`` closes the quote as Revised
(statecode 3 Closed, statuscode 7 Revised) and creates its next revision: a new quote row with the same
``quotenumber``, ``revisionnumber`` + 1, in Draft, with copies of its lines (same ``sequencenumber``). Only an
active or closed (not already revised) quote can be revised. The response is the new quote.
"""

from __future__ import annotations

import uuid
from typing import Any

from p2c.sandbox.crm import entities as E
from p2c.sandbox.crm.store import CrmStore
from p2c.sandbox.odata import errors as codes
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.sqlite import fetch_one

CLOSED, REVISED = 3, 7
#: columns a revision does not copy: its identity, state, what the platform or the plug-ins maintain
NOT_COPIED = {
    "quoteid",
    "quotedetailid",
    "_quoteid_value",
    "revisionnumber",
    "statecode",
    "statuscode",
    "quotestatecode",
    "createdon",
    "modifiedon",
    "versionnumber",
    "_createdby_value",
    "_modifiedby_value",
}


def revise_quote(store: CrmStore, quote_id: str, user: str) -> dict[str, Any]:
    with store.db.transaction():
        quote = fetch_one(store.conn, E.QUOTES, {"quoteid": quote_id})
        if quote is None:
            raise ODataError(404, f"quote With Id = {quote_id} Does Not Exist", codes.OBJECT_DOES_NOT_EXIST)
        if quote["statecode"] not in (1, CLOSED) or quote["statuscode"] == REVISED:
            raise ODataError(
                400,
                f"The quote {quote['quotenumber']} cannot be revised: only an active or closed quote can be "
                f"(statecode {quote['statecode']}, statuscode {quote['statuscode']}).",
                codes.INVALID_ARGUMENT,
            )
        lines = store.conn.execute('SELECT * FROM quotedetails WHERE "_quoteid_value" = ?', (quote_id,))
        names = [d[0] for d in lines.description]
        copies = [dict(zip(names, row, strict=True)) for row in lines.fetchall()]
        store.update_row(E.QUOTES, quote, {"statecode": CLOSED, "statuscode": REVISED}, user)
        new_id = str(uuid.uuid4())
        cols = {k: v for k, v in quote.items() if k not in NOT_COPIED}
        cols |= {"quoteid": new_id, "revisionnumber": int(quote["revisionnumber"] or 0) + 1}
        cols |= {"statecode": 0, "statuscode": 1}
        revision = store.insert_row(E.QUOTES, cols, user)
        for line in copies:
            copy = {k: v for k, v in line.items() if k not in NOT_COPIED}
            store.insert_row(
                E.QUOTEDETAILS, {**copy, "quotedetailid": str(uuid.uuid4()), "_quoteid_value": new_id}, user
            )
        row = fetch_one(store.conn, E.QUOTES, {"quoteid": new_id})
        assert row is not None and revision is not None
        return row
