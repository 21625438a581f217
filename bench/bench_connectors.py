"""Throughput of the FinOps sink's write path against a real ERP sandbox process.

    python bench/bench_connectors.py [--records 10000] [--batch 1000]

Starts ``p2c sandbox erp`` on a free port, then times FinOpsSink.write over batches of new customers (POST),
the same batches again at a newer version (PATCH), and once more unchanged (skipped by the version guard).
Prints records/s per phase. Kafka is not involved: this measures the HTTP/$batch side.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from connectors.base.sink import SinkRecord
from connectors.finops.settings import ErpSinkSettings
from connectors.finops.sink import FinOpsSink
from connectors.finops.targets import CUSTOMERS
from p2c.process import ManagedProcess, free_port, http_ok, p2c_command


def records(n: int, version: int) -> list[SinkRecord]:
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
                "origin": {"system": "crm", "entity": "accounts", "id": str(i), "version": version, "ts_ms": 0},
            },
        )
        for i in range(n)
    ]


def phase(sink: FinOpsSink, name: str, recs: list[SinkRecord], batch: int) -> None:
    started = time.perf_counter()
    written = skipped = rejected = 0
    for i in range(0, len(recs), batch):
        result = sink.write(recs[i : i + batch])
        written, skipped, rejected = (
            written + len(result.written),
            skipped + len(result.skipped),
            rejected + len(result.rejected),
        )
    elapsed = time.perf_counter() - started
    print(
        f"{name:<8} {len(recs):>7} records in {elapsed:6.2f} s = {len(recs) / elapsed:8.0f} records/s "
        f"(written {written}, skipped {skipped}, rejected {rejected})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        erp = ManagedProcess(
            "erp",
            p2c_command("sandbox", "erp", "--port", str(port), "--data-dir", tmp),
            ready=http_ok(f"{url}/data/$metadata"),
            log_path=Path(tmp) / "erp.log",
        )
        erp.start()
        try:
            sink = FinOpsSink(ErpSinkSettings(url=url).client("bench"), CUSTOMERS, max_operations=args.batch)
            phase(sink, "insert", records(args.records, 1), args.batch)
            phase(sink, "update", records(args.records, 2), args.batch)
            phase(sink, "replay", records(args.records, 2), args.batch)
            sink.close()
        finally:
            erp.stop()


if __name__ == "__main__":
    main()
