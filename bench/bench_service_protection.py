"""How long the initial load of the seeded data takes under the CRM sandbox's service protection.

    python bench/bench_service_protection.py [--scales off,0.1,0.01]

For each scale it starts `p2c up` (free ports, a temporary data directory, the default seed: 300 accounts, 300
contacts, 200 products, 200 quotes) with `--crm-service-protection SCALE`, and measures from its launch until every
sellable ERP product is an active, synced product in the CRM and every account is a customer in the ERP. Prints
the time, the 429s the CRM sandbox answered, and the requests that went before their Retry-After (must be 0).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.conftest import start_up
from tests.support.load import initial_load_done
from tests.support.odata import crm, erp, wait_for


def initial_load(scale: str) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        extra = () if scale == "off" else ("--crm-service-protection", scale)
        started = time.monotonic()  # the load starts before p2c up says ready: time it from the launch
        running = start_up(Path(tmp), *extra)
        try:
            loaded = initial_load_done(crm(running.crm_url), erp(running.erp_url))
            wait_for("the initial load", loaded, timeout=600, every=0.5)
            took = time.monotonic() - started
            log = running.log("crm")
            return took, log.count("service protection: "), log.count("before its Retry-After")
        finally:
            running.process.stop(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="off,0.1,0.01")
    args = parser.parse_args()
    print(f"{'service protection':>20} {'initial load':>13} {'429s':>6} {'early':>6}")
    for scale in args.scales.split(","):
        took, refused, early = initial_load(scale.strip())
        label = "off" if scale == "off" else f"x{scale}"
        print(f"{label:>20} {took:>11.1f} s {refused:>6} {early:>6}", flush=True)


if __name__ == "__main__":
    main()
