"""Reconcile and replay against `p2c up` on the embedded broker and the sandboxes, on a load of its own (the
seed), so that no other test's records are in flight: after the load the two systems are in sync; a replay of
every flow from earliest changes nothing in the targets and duplicates nothing; customers deleted by hand in
the ERP are named by reconcile and restored by a replay."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from p2c.flows import NAMES
from p2c.process import p2c_command
from tests.e2e.conftest import Running, start_up
from tests.support.cli import run_p2c
from tests.support.odata import erp, wait_for

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = start_up(tmp_path_factory.mktemp("p2c-up-replay"))
    yield running
    running.process.stop(timeout=30)


def flows(up: Running) -> dict[str, dict[str, Any]]:
    """The flows' figures from the control API (what `p2c status` prints, without starting a process)."""
    return {f["flow"]: f for f in httpx.get(f"{up.control_url}/api/flows", timeout=30).json()["flows"]}


def settled(up: Running) -> dict[str, Any] | None:
    """The flows' figures once nothing is left to process or waits (twice in a row: nothing arrived between)."""
    first = flows(up)
    if any(f["lag"] or f["waiting"] for f in first.values()):
        return None
    time.sleep(1.1)  # the control caches its figures for a second
    second = flows(up)
    same = all(second[n]["events_in"] == first[n]["events_in"] and not second[n]["lag"] for n in NAMES)
    return second if same else None


def reconcile(up: Running, *flows: str) -> tuple[int, dict[str, Any]]:
    """(exit code, the report) of ``p2c reconcile --json``; its stderr (progress) is kept for a failure."""
    argv = ["reconcile", *flows, "--json", "--crm-url", up.crm_url, "--erp-url", up.erp_url]
    done = subprocess.run(p2c_command(*argv), capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.returncode, json.loads(done.stdout)


def in_sync(up: Running) -> None:
    code, report = reconcile(up)
    assert (code, report["total"]) == (0, 0), json.dumps(report["differences"][:20], indent=1)
    assert all(f["expected"] for f in report["flows"]), report["flows"]  # every flow compared something


def test_replays_change_nothing_and_restore_what_was_deleted_by_hand(up: Running) -> None:
    wait_for("the seed load done", lambda: settled(up), timeout=120, every=1)
    in_sync(up)

    # every flow read again from its beginning through its logic, the four at once
    replays = {
        flow: subprocess.Popen(
            p2c_command("replay", flow, "--from", "earliest", "--bootstrap-servers", up.bootstrap),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flow in NAMES
    }
    for flow, process in replays.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0 and f"replayed {flow} (streams, from earliest)" in out, out + err
    wait_for("the replayed writes applied", lambda: settled(up), timeout=60, every=1)
    in_sync(up)  # duplicates would be named too (a contact person twice for one contact number)
    e = erp(up.erp_url)
    persons = Counter(p["ContactPersonId"] for p in e.get_all("CDSContactPersonsV2", {"cross-company": "true"}))
    assert persons and max(persons.values()) == 1, persons.most_common(3)

    customers = e.get_all(
        "CustomersV3",
        {"cross-company": "true", "$filter": "PartyType eq 'Organization'", "$select": "dataAreaId,CustomerAccount"},
    )
    gone = sorted(customers, key=lambda c: str(c["CustomerAccount"]))[:3]
    for c in gone:
        e.delete(f"CustomersV3(dataAreaId='{c['dataAreaId']}',CustomerAccount='{c['CustomerAccount']}')")
    code, report = reconcile(up, "accounts")
    named = {(d["kind"], d["key"]) for d in report["differences"]}
    assert code == 1 and named == {("missing", f"{c['dataAreaId']}|{c['CustomerAccount']}") for c in gone}, report

    run_p2c("replay", "accounts", "--stage", "sink", "--from", "earliest", "--bootstrap-servers", up.bootstrap)
    wait_for("the sink's replay applied", lambda: settled(up), timeout=60, every=1)
    started = httpx.post(f"{up.control_url}/api/reconciles", json={"flows": ["accounts"]}, timeout=30)
    assert started.status_code == 202, started.text
    run = started.json()["id"]
    finished = wait_for(
        "the reconcile run by the control",
        lambda: (
            (r := httpx.get(f"{up.control_url}/api/reconciles/{run}", timeout=30).json())["state"] != "running" and r
        ),
        timeout=60,
        every=0.5,
    )
    assert finished["state"] == "done" and finished["result"]["in_sync"], finished
