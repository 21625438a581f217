"""`p2c up --broker kafka` as a new user meets it: stopped with Ctrl-C and started again on the same data
directory, it keeps its dead letters, its source positions (no full load again) and its consumer offsets."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from p2c.process import p2c_command
from tests.support.odata import crm, erp, wait_for
from tests.support.up import Running, start_p2c_up

pytestmark = [pytest.mark.timeout(420), pytest.mark.slow]


def ctrl_c(running: Running) -> None:
    """What Ctrl-C in the terminal does: SIGINT to `p2c up`, which stops everything it started."""
    assert running.process.process is not None
    running.process.process.send_signal(signal.SIGINT)
    assert running.process.process.wait(90) == 0
    assert "stopped" in (running.data_dir / "p2c-up.out").read_text()


def dead_letters(running: Running) -> list[dict[str, Any]]:
    listed = subprocess.run(
        p2c_command("dlq", "list", "--flow", "accounts", "--json", "--bootstrap-servers", running.bootstrap),
        capture_output=True,
        text=True,
        check=True,
    )
    letters: list[dict[str, Any]] = json.loads(listed.stdout)  # one JSON array
    return letters


def customer_named(running: Running, name: str) -> list[dict[str, Any]]:
    rows = erp(running.erp_url).get_all(
        "CustomersV3", {"cross-company": "true", "$filter": f"OrganizationName eq '{name}'"}
    )
    return rows


def test_ctrl_c_and_up_again_keeps_dead_letters_positions_and_offsets(tmp_path: Path) -> None:
    data_dir = tmp_path / "p2c"
    first = start_p2c_up(data_dir, "--broker", "kafka", "--no-seed", timeout=240)
    try:
        out = (data_dir / "p2c-up.out").read_text()
        assert "Apache Kafka" in out and "survive a restart" in out
        bad = crm(first.crm_url).post("accounts", {"name": "Atlantis Trading", "address1_country": "Atlantis"}).json()
        crm(first.crm_url).post("accounts", {"name": "Before Restart", "address1_country": "Germany"})
        wait_for("the dead letter", lambda: any(x["key"] == bad["accountid"] for x in dead_letters(first)), timeout=60)
        wait_for("the customer written before the restart", lambda: customer_named(first, "Before Restart"), timeout=60)
    finally:
        ctrl_c(first)
    source_log = data_dir / "logs" / "source-crm.log"
    loads_before = source_log.read_text().count("full load of accounts started")
    assert loads_before == 1

    # Other ports, as a new user gets when the old ones are taken: a source's position (the CRM's delta link)
    # is kept relative to the service root, so the CRM at its new address resumes from it.
    second = start_p2c_up(data_dir, "--broker", "kafka", "--no-seed", timeout=240)
    assert second.crm_url != first.crm_url
    try:
        assert [x["key"] for x in dead_letters(second)].count(bad["accountid"]) == 1  # kept, not dead-lettered again
        crm(second.crm_url).post("accounts", {"name": "After Restart", "address1_country": "Germany"})
        wait_for("the customer written after the restart", lambda: customer_named(second, "After Restart"), timeout=60)
        assert len(customer_named(second, "Before Restart")) == 1
        text = source_log.read_text()
        assert "starting from its stored position" in text.split("full load of accounts started")[-1]
        assert text.count("full load of accounts started") == loads_before  # no full resync
        # The streams group resumed from its committed offsets: the bad account was not processed again.
        assert [x["key"] for x in dead_letters(second)].count(bad["accountid"]) == 1
    finally:
        ctrl_c(second)
