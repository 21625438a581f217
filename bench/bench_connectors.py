"""Throughput of the connectors' HTTP side against real sandbox processes (Kafka is not involved).

    python bench/bench_connectors.py [--records 10000] [--batch 1000] [--what customers,quotations,products,source]

Starts ``p2c sandbox erp`` (and ``crm``) on free ports, then times, per phase, records/s of:

    customers    FinOpsSink.write: new customers (POST), again at a newer version (PATCH), unchanged (skipped)
    quotations   the same for quotations of 5 lines each (header + lines in one change set; records/5 of them)
    products     the CRM products sink: product + price-list item per change set
    source       the ERP source's full load of released products (keyset pages of 1000), then an empty poll
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from p2c import topics
from p2c.connectors.base.sink import Sink, SinkRecord
from p2c.connectors.base.source import ChangeEvent
from p2c.connectors.core.batch import ODATA_DEFAULT_PARTS, BatchWriter, ChangeSet, Operation
from p2c.connectors.core.versions import VersionStore
from p2c.connectors.dataverse.settings import CrmSinkSettings
from p2c.connectors.dataverse.sink import ProductSink
from p2c.connectors.finops.quotations import QUOTATIONS
from p2c.connectors.finops.settings import ErpSinkSettings
from p2c.connectors.finops.sink import FinOpsSink
from p2c.connectors.finops.snapshot import SnapshotStore
from p2c.connectors.finops.source import STREAMS, FinOpsSource
from p2c.connectors.finops.targets import CUSTOMERS
from p2c.process import ManagedProcess, free_port, http_ok, p2c_command

PRODUCTS = 50


def origin(entity: str, i: int, version: int) -> dict[str, Any]:
    return {"system": "crm", "entity": entity, "id": str(i), "version": version, "ts_ms": 0}


def customers(n: int, version: int) -> list[SinkRecord]:
    return [
        SinkRecord(
            CUSTOMERS.topic,
            0,
            i,
            f"usmf|B-{i:06d}",
            {
                "op": "UPSERT",
                "record": {
                    "dataAreaId": "usmf",
                    "CustomerAccount": f"B-{i:06d}",
                    "PartyType": "Organization",
                    "OrganizationName": f"Bench {i} v{version}",
                    "CustomerGroupId": "10",
                    "LanguageId": "en-us",
                },
                "origin": origin("accounts", i, version),
            },
        )
        for i in range(n)
    ]


def quotations(n: int, version: int, lines: int = 5) -> list[SinkRecord]:
    out = []
    for i in range(n):
        number = f"BQ-{i:06d}"
        header = {"dataAreaId": "usmf", "SalesQuotationNumber": number, "RequestingCustomerAccountNumber": "B-000000"}
        rows = [
            {
                "dataAreaId": "usmf",
                "SalesQuotationNumber": number,
                "LineCreationSequenceNumber": n_,
                "ProductNumber": f"BP-{(i + n_) % PRODUCTS:03d}",
                "SalesUnitSymbol": "ea",
                "RequestedSalesQuantity": Decimal(version),
            }
            for n_ in range(1, lines + 1)
        ]
        value = {"op": "UPSERT", "record": {"header": header, "lines": rows}, "origin": origin("quotes", i, version)}
        out.append(SinkRecord(QUOTATIONS.topic, 0, i, f"usmf|{number}", value))
    return out


def products(n: int, version: int) -> list[SinkRecord]:
    return [
        SinkRecord(
            topics.CRM_PRODUCTS_TARGET.name,
            0,
            i,
            f"BP-{i:06d}",
            {
                "op": "UPSERT",
                "record": {
                    "productnumber": f"BP-{i:06d}",
                    "name": f"Bench product {i} v{version}",
                    "transactioncurrencyid_isocurrencycode": "USD",
                    "defaultuomid_name": "Each",
                    "defaultuomscheduleid_name": "Default Unit",
                    "price": Decimal(version),
                },
                "origin": origin("CDSReleasedDistinctProducts", i, version),
            },
        )
        for i in range(n)
    ]


def report(name: str, n: int, elapsed: float, detail: str = "") -> None:
    print(f"{name:<22} {n:>7} records in {elapsed:6.2f} s = {n / elapsed:8.0f} records/s {detail}")


def phase(sink: Sink, name: str, recs: list[SinkRecord], batch: int) -> None:
    started = time.perf_counter()
    written = skipped = rejected = 0
    for i in range(0, len(recs), batch):
        result = sink.write(recs[i : i + batch])
        written += len(result.written)
        skipped += len(result.skipped)
        rejected += len(result.rejected)
    report(
        name, len(recs), time.perf_counter() - started, f"(written {written}, skipped {skipped}, rejected {rejected})"
    )


@contextmanager
def sandbox(kind: str, tmp: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = "/data/$metadata" if kind == "erp" else "/api/data/v9.2/$metadata"
    proc = ManagedProcess(
        kind,
        p2c_command("sandbox", kind, "--port", str(port), "--data-dir", str(Path(tmp) / kind)),
        ready=http_ok(url + api),
        log_path=Path(tmp) / f"{kind}.log",
    )
    proc.start()
    try:
        yield url
    finally:
        proc.stop()


def released_products(url: str, n: int) -> None:
    client = ErpSinkSettings(url=url).client("bench setup")
    ops = [
        ChangeSet(
            f"BP-{i:03d}",
            [
                Operation(
                    "POST",
                    "CDSReleasedDistinctProducts",
                    {"dataAreaId": "usmf", "ProductNumber": f"BP-{i:03d}", "SalesUnitSymbol": "ea", "SalesPrice": 10.0},
                )
            ],
        )
        for i in range(n)
    ]
    BatchWriter(client, ODATA_DEFAULT_PARTS).send(ops)
    client.close()


def run_erp(url: str, n: int, batch: int, what: set[str]) -> None:
    settings = ErpSinkSettings(url=url)
    state = Path(tempfile.mkdtemp(prefix="bench-erp-"))
    sink = FinOpsSink(settings.client("bench"), CUSTOMERS, VersionStore(state, "customers"), max_operations=batch)
    phase(sink, "customers insert", customers(n, 1), batch)
    if "customers" in what:
        phase(sink, "customers update", customers(n, 2), batch)
        phase(sink, "customers replay", customers(n, 2), batch)
    if "quotations" in what or "source" in what:
        released_products(url, PRODUCTS if "source" not in what else max(PRODUCTS, n))
    if "quotations" in what:
        qs = FinOpsSink(settings.client("bench"), QUOTATIONS, VersionStore(state, "quotations"), max_operations=batch)
        phase(qs, "quotations insert", quotations(n // 5, 1), batch // 6)
        phase(qs, "quotations update", quotations(n // 5, 2), batch // 6)
        phase(qs, "quotations replay", quotations(n // 5, 2), batch // 6)
    if "source" in what:
        products = STREAMS["CDSReleasedDistinctProducts"]
        src = FinOpsSource(settings.client("bench"), [products], SnapshotStore(state), page_size=5000)
        timed(lambda: src.cycle(products), "source full snapshot")
        timed(lambda: src.cycle(products), "source snapshot, nothing changed")


def timed(poll: Callable[[], Iterator[Any]], name: str) -> None:
    started = time.perf_counter()
    events = sum(1 for item in poll() if isinstance(item, ChangeEvent))
    report(name, max(events, 1), time.perf_counter() - started, f"({events} events)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100, help="$batch parts (the ERP sandbox allows 100)")
    parser.add_argument("--what", default="customers,quotations,products,source")
    args = parser.parse_args()
    what = set(args.what.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if what & {"customers", "quotations", "source"}:
            with sandbox("erp", tmp) as url:
                run_erp(url, args.records, args.batch, what)
        if "products" in what:
            with sandbox("crm", tmp) as url:
                client = CrmSinkSettings(url=url).client("bench")
                sink = ProductSink(client, VersionStore(Path(tmp) / "versions", "products"), max_operations=args.batch)
                batch = args.batch // 2  # two operations a product
                phase(sink, "products insert", products(args.records, 1), batch)
                phase(sink, "products update", products(args.records, 2), batch)
                phase(sink, "products replay", products(args.records, 2), batch)


if __name__ == "__main__":
    main()
