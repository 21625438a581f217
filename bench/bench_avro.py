"""Avro per value, in-process: fastavro against the code p2c compiles per schema (p2c.avro_compiled).

    python bench/bench_avro.py [--count 5000] [--json]

For the accounts flow's values (sample accounts as the CRM source publishes them, and the customer writes the
accounts flow makes of them): microseconds to encode a source change, decode it, and encode the write, best
of three passes over ``--count`` values, on one core. The bytes and values are checked equal first.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from p2c import schemas
from p2c.avro_compiled import compile_reader, compile_writer
from p2c.streams import loader, samples
from p2c.streams.flow import MappingFlow
from p2c.topics import CRM_ACCOUNTS, ERP_CUSTOMERS


def fastavro_bytes(schema: Any, value: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, value)
    return out.getvalue()


def best_us(call: Callable[[Any], Any], values: list[Any]) -> float:
    """The best of three passes, in microseconds a value."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for value in values:
            call(value)
        best = min(best, (time.perf_counter() - started) / len(values) * 1e6)
    return round(best, 1)


def run(count: int) -> dict[str, Any]:
    source = fastavro.parse_schema(schemas.load(CRM_ACCOUNTS.name))
    target = fastavro.parse_schema(schemas.load(ERP_CUSTOMERS.name))
    write_change, read_change, write_customer = compile_writer(source), compile_reader(source), compile_writer(target)
    assert write_change and read_change and write_customer, "the accounts schemas compile"
    flow = MappingFlow(loader.load("accounts"))
    changes = [samples.change("c", samples.account_row(i), i) for i in range(count)]
    encoded = [fastavro_bytes(source, change) for change in changes]
    decoded = [fastavro.schemaless_reader(io.BytesIO(data), source, None) for data in encoded]
    writes = [w.value for change in decoded for w in flow.handle(change, None).writes]
    assert [write_change(c) for c in changes] == encoded and [read_change(d) for d in encoded] == decoded
    assert [write_customer(w) for w in writes] == [fastavro_bytes(target, w) for w in writes]
    return {
        "values": count,
        "encode_change_us": {
            "fastavro": best_us(lambda c: fastavro_bytes(source, c), changes),
            "compiled": best_us(write_change, changes),
        },
        "decode_change_us": {
            "fastavro": best_us(lambda d: fastavro.schemaless_reader(io.BytesIO(d), source, None), encoded),
            "compiled": best_us(read_change, encoded),
        },
        "encode_customer_write_us": {
            "fastavro": best_us(lambda w: fastavro_bytes(target, w), writes),
            "compiled": best_us(write_customer, writes),
        },
        "cores": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="values per pass")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.count)
    if args.json:
        print(json.dumps(figures))
        return
    for name, pair in figures.items():
        if isinstance(pair, dict):
            print(f"{name[:-3]:<22} fastavro {pair['fastavro']:>6} us   compiled {pair['compiled']:>6} us")
    print(f"{figures['values']} values, best of 3; cores {figures['cores']}, load {figures['load']}")


if __name__ == "__main__":
    main()
