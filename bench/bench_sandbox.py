"""Figures for the sandbox services: full load, delta, $batch of PATCHes. Not a test.

python bench/bench_sandbox.py [--accounts 5000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from p2c.process import ManagedProcess, free_port, http_ok, p2c_command

API = "/api/data/v9.2/"


def timed(label: str, fn: Callable[[], object], runs: int = 5) -> None:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    print(f"{label:<48} median {statistics.median(samples):7.1f} ms   min {min(samples):7.1f} ms")


def batch(n: int, offset: int) -> tuple[str, dict[str, str]]:
    parts = "".join(
        f"--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {i}\r\n\r\n"
        f"PATCH accounts(accountnumber='ACC-BENCH-{i}') HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
        f'{{"name": "Bench {i + offset}", "telephone1": "+1 555 {i:04d}"}}\r\n'
        for i in range(n)
    )
    body = f"--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n{parts}--cs--\r\n--b--\r\n"
    return body, {"Content-Type": "multipart/mixed; boundary=b"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        started = time.perf_counter()
        subprocess.run(
            p2c_command("sandbox", "seed", "--data-dir", str(data), "--accounts", str(args.accounts)),
            check=True,
            capture_output=True,
        )
        print(
            f"seed ({args.accounts} accounts, 300 contacts, 200 products, 200 quotes): "
            f"{time.perf_counter() - started:.2f} s"
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        argv = p2c_command("sandbox", "crm", "--port", str(port), "--data-dir", str(data / "crm"))
        process = ManagedProcess("crm", argv, ready=http_ok(base + API + "$metadata"))
        process.start()
        try:
            form = {
                "grant_type": "client_credentials",
                "client_id": "p2c",
                "client_secret": "p2c-sandbox-secret",
                "scope": f"{base}/.default",
            }
            access = httpx.post(f"{base}/t/oauth2/v2.0/token", data=form).json()["access_token"]
            with httpx.Client(base_url=base + API, headers={"Authorization": f"Bearer {access}"}, timeout=30) as c:
                track = {"Prefer": "odata.track-changes,odata.maxpagesize=5000"}
                timed(f"full load, {args.accounts} accounts, pages of 5000", lambda: c.get("accounts", headers=track))
                link = c.get("accounts?$select=name", headers=track).json()["@odata.deltaLink"]
                timed("empty delta poll", lambda: c.get(link))
                body, headers = batch(1000, 0)
                c.post("$batch", content=body, headers=headers)  # creates them
                counter = iter(range(1, 100))
                timed(
                    "$batch of 1000 PATCHes (one change set)",
                    lambda: c.post("$batch", content=batch(1000, next(counter))[0], headers=headers),
                )
                timed("delta poll after 1000 changes", lambda: c.get(link))
        finally:
            process.stop()


if __name__ == "__main__":
    main()
