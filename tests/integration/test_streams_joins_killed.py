"""A worker of the quotes flow killed in the middle of a load: every quote still ends whole in the ERP.

A joining record's state and writes are held until its last event of a batch (``streams.join.held``), so a
kill can come after some of a record's events were handled and before its state was stored. The restarted
worker reads the batch again from the committed offset; every quotation must end with all its lines.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from p2c.serde import Codecs
from p2c.settings import KafkaSettings
from p2c.streams import samples
from p2c.topics import CRM_ACCOUNTS, CRM_PRODUCTS, CRM_QUOTEDETAILS, CRM_QUOTES, ERP_QUOTATIONS, entity_of
from tests.integration import test_streams_joins as joins
from tests.integration.test_streams_joins import Pipe, account, lines_of, tag
from tests.support.workers import Workers

QUOTES, LINES = 300, 5


codecs = joins.codecs  # the same fixture: every topic of the joins registered


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_worker_killed_in_the_middle_of_quotes_leaves_none_short_of_its_lines(
    workers: Workers, kafka: KafkaSettings, codecs: Codecs
) -> None:
    t = tag()
    accounts = [account(f"ACC-K{i}-{t}") for i in range(10)]
    products = [samples.product_row(f"PK{i}-{t}") for i in range(10)]
    quotes = [samples.quote_row(f"QUO-K{i}-{t}", accounts[i % 10]) for i in range(QUOTES)]
    changes: list[tuple[Any, dict[str, Any]]] = [(CRM_ACCOUNTS, a) for a in accounts]
    changes += [(CRM_PRODUCTS, p) for p in products]
    for i, quote in enumerate(quotes):
        changes.append((CRM_QUOTES, quote))
        changes += [(CRM_QUOTEDETAILS, samples.line_row(quote, n, products[(i + n) % 10])) for n in range(1, LINES + 1)]
    pipe = Pipe(kafka, codecs)
    first = workers.start("quotes-killed")
    for topic, row in changes:
        pipe.version += 1
        change = samples.change("c", row, pipe.version, entity=entity_of(topic))
        pipe.producer.produce(
            topic.name, key=samples.event_key(entity_of(topic), row), value=codecs[topic.name].serialize(change)
        )
        pipe.producer.poll(0)
    assert pipe.producer.flush(10) == 0
    keys = {f"usmf|QUO-K{i}-{t}" for i in range(QUOTES)}

    def whole(writes: list[dict[str, Any]]) -> set[str]:
        last = {w["key"]: w for w in writes}
        return {key for key, w in last.items() if w["op"] == "UPSERT" and len(lines_of(w)) == LINES}

    pipe.read(ERP_QUOTATIONS.name, keys, lambda ws: len(whole(ws)) >= QUOTES // 5, timeout=60)
    first.kill()  # no goodbye: nothing flushed, nothing committed since the last commit
    killed_at = time.monotonic()
    workers.start("quotes-after-kill")
    writes = pipe.read(ERP_QUOTATIONS.name, keys, lambda ws: whole(ws) == keys, timeout=90)
    print(f"every quotation whole {time.monotonic() - killed_at:.1f} s after the kill ({len(writes)} writes)")
    for key in keys:  # whatever was written twice, the last write of each quotation is its newest
        versions = [w["origin"]["version"] for w in writes if w["key"] == key]
        assert versions[-1] == max(versions), key
