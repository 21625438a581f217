"""Counts that add up: after a mixed load (a wait, skips, a truncation, dead letters, a record held by a sink),
every flow's every stage, read through the control API, accounts for every record it read."""

from __future__ import annotations

import os
import subprocess
import uuid
from typing import Any

import httpx
import pytest

from p2c.process import p2c_command
from tests.support.cli import run_p2c
from tests.support.odata import ODataClient, crm, wait_for
from tests.support.up import Running

pytestmark = pytest.mark.timeout(180)

LAST: list[dict[str, Any]] = []  # the flows as the API last gave them


def ref_id(c: ODataClient, entity_set: str, field: str, value: str, key: str) -> str:
    return str(c.get_all(entity_set, {"$filter": f"{field} eq '{value}'", "$select": key})[0][key])


def mixed_load(c: ODataClient, tag: str) -> dict[str, Any]:
    """A long name (truncated in the ERP), an unmappable account (dead-lettered) and its contact (held by the
    ERP sink: its company is not there), a contact of an account without a number (waiting on it), a draft
    quote (skipped), a quote on a contact, a quote on a product the CRM masters (skipped)."""
    usd = ref_id(c, "transactioncurrencies", "isocurrencycode", "USD", "transactioncurrencyid")
    each = ref_id(c, "uoms", "name", "Each", "uomid")
    long = c.post("accounts", {"name": f"Long {tag} " + "x" * 140}).json()
    atlantis = c.post("accounts", {"name": f"Atlantis {tag}", "address1_country": "Atlantis"}).json()
    c.post(
        "contacts",
        {
            "firstname": "Held",
            "lastname": tag,
            "parentcustomerid_account@odata.bind": f"/accounts({atlantis['accountid']})",
        },
    )
    nameless = c.post("accounts", {"name": f"No number {tag}"}).json()
    c.patch(f"accounts({nameless['accountid']})", {"accountnumber": None})
    parent = {"parentcustomerid_account@odata.bind": f"/accounts({nameless['accountid']})"}
    waits = c.post("contacts", {"firstname": "Waits", "lastname": tag, **parent}).json()
    account = c.post("accounts", {"name": f"Counted {tag}"}).json()
    prospect = c.post("contacts", {"firstname": "Not", "lastname": f"Customer {tag}"}).json()
    product = c.post(
        "products",
        {
            "name": f"Crm Widget {tag}",
            "productnumber": f"CW-{tag}",
            "defaultuomid@odata.bind": f"/uoms({each})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({usd})",
        },
    ).json()
    c.post(f"products({product['productid']})/Microsoft.Dynamics.CRM.PublishProductHierarchy", {})
    currency = {"transactioncurrencyid@odata.bind": f"/transactioncurrencies({usd})"}
    c.post("quotes", {"name": f"Draft {tag}", "statecode": 0, **currency, **_customer("account", account)})
    c.post("quotes", {"name": f"Waits {tag}", "statecode": 1, **currency, **_customer("contact", prospect)})
    quote = c.post(
        "quotes", {"name": f"Crm product {tag}", "statecode": 1, **currency, **_customer("account", account)}
    )
    c.post(
        "quotedetails",
        {
            "quoteid@odata.bind": f"/quotes({quote.json()['quoteid']})",
            "productid@odata.bind": f"/products({product['productid']})",
            "uomid@odata.bind": f"/uoms({each})",
            "quantity": 1,
            "priceperunit": 10,
        },
    )
    return {"long": long, "nameless": nameless, "waits": waits}


def _customer(kind: str, row: dict[str, Any]) -> dict[str, str]:
    plural = f"{kind}s"
    return {f"customerid_{kind}@odata.bind": f"/{plural}({row[f'{kind}id']})"}


def summary(flows: list[dict[str, Any]]) -> str:
    """Each flow's stages, the figures that are not 0, one line each (what a failure prints)."""
    return "\n".join(
        f"{f['flow']} lag {f['lag']} {s['stage']}: " + str({k: v for k, v in s["total"].items() if v})
        for f in flows
        for s in f["stages"]
    )


def settled(control_url: str) -> list[dict[str, Any]] | None:
    """The flows once every stage is idle (nothing in flight, no lag, the same figures as the last poll), else
    None."""
    flows: list[dict[str, Any]] = httpx.get(f"{control_url}/api/flows", timeout=60).json()["flows"]
    figures = [s["total"] for f in flows for s in f["stages"]]
    same = figures == [s["total"] for f in LAST for s in f["stages"]]
    LAST[:] = flows
    # no lag either: what a sink holds back is held, not lag
    idle = all(n["in_flight"] == 0 for n in figures) and all(f["lag"] == 0 for f in flows)
    return flows if same and idle else None


def test_every_flow_s_counts_add_up_after_a_mixed_load(p2c_up: Running) -> None:
    c = crm(p2c_up.crm_url)
    tag = uuid.uuid4().hex[:6].upper()
    made = mixed_load(c, tag)

    def seen() -> list[dict[str, Any]] | None:
        flows = settled(p2c_up.control_url)
        if flows is None:
            return None
        waiting = _stage(flows, "contacts", "streams")["waiting"]
        accounts = _stage(flows, "accounts", "streams")
        held = _stage(flows, "contacts", "sink")
        done = waiting >= 1 and accounts["dead_lettered"] >= 2 and held["held"] + held["dead_lettered"] >= 1
        return flows if done else None

    try:
        flows = wait_for("every stage idle, with the mixed load counted", seen, timeout=60, every=2)
    except AssertionError:
        print(summary(LAST))
        raise

    for f in flows:
        assert f["adds_up"], summary(flows)
        for stage in f["stages"]:
            for view in ("total", "since_start"):
                n = stage[view]
                outcomes = n["written"] + n["waiting"] + n["held"] + n["skipped"] + n["dead_lettered"]
                assert n["read"] + n["carried_in"] == outcomes + n["requeued"] + n["carried_out"], (f["flow"], stage)
                assert sum(n["skipped_by"].values()) == n["skipped"], (f["flow"], stage)
                assert "no rule recorded" not in n["skipped_by"], (f["flow"], stage)
                assert sum(n["waiting_on"].values()) == n["waiting"], (f["flow"], stage)
        assert [s["unit"] for s in f["stages"]] == ["source rows", "change events", "target records"]

    quotes = _stage(flows, "quotes", "streams")
    assert quotes["skipped_by"].get("not active", 0) >= 1
    assert quotes["skipped_by"].get("a product is not externally maintained", 0) >= 1
    assert _stage(flows, "contacts", "streams")["waiting_on"].get("account", 0) >= 1
    accounts = {s["stage"]: s["total"] for s in next(f for f in flows if f["flow"] == "accounts")["stages"]}
    # every account row the source published is a change event the streams read (more after a crash: read again)
    assert accounts["streams"]["read"] >= accounts["source"]["written"] > 0
    assert next(f for f in flows if f["flow"] == "accounts")["last_sync_ms"]
    check_loads(p2c_up, flows)
    check_waiting_link(p2c_up, made)
    check_processes(p2c_up)
    check_traces(p2c_up, made)


def _stage(flows: list[dict[str, Any]], flow: str, stage: str) -> dict[str, Any]:
    entry = next(f for f in flows if f["flow"] == flow)
    figures: dict[str, Any] = next(s for s in entry["stages"] if s["stage"] == stage)["total"]
    return figures


def trace_api(control_url: str, flow: str, key: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{control_url}/api/flows/{flow}/trace/{key}", timeout=60).json()
    return found


def check_traces(p2c_up: Running, made: dict[str, Any]) -> None:
    """The long name's truncation is reported; the contact waits on the account dead-lettered for its missing
    number, and says so; the CLI prints the same trace."""
    number = made["long"]["accountnumber"]
    found = trace_api(p2c_up.control_url, "accounts", number)
    assert found["ids"] == [made["long"]["accountid"]], found
    stages = [s["stage"] for s in found["steps"]]
    assert stages[0] == "source" and "streams" in stages, found
    write = next(s for s in found["steps"] if s["stage"] == "streams")
    assert any(n.startswith("OrganizationName truncated from") for n in write["changed"]), write
    assert write["time"] and write["version"] > 0 and write["sink"].startswith("handled by p2c-sink-erp-customers")

    contact = made["waits"]
    found = trace_api(p2c_up.control_url, "contacts", contact["msdynce_contactnumber"])
    waiting = found["waiting"]
    assert waiting and waiting["waiting_on"] == {"account": 1} and waiting["events"] >= 1, found
    dep = waiting["dependencies"][0]
    assert dep["key"] == made["nameless"]["accountid"] and dep["dead_letter"]["state"] == "open", found

    env = {**os.environ, "P2C_SCHEMA_REGISTRY_URL": p2c_up.registry_url}
    cli = subprocess.run(
        p2c_command("trace", "contacts", contact["contactid"], "--bootstrap-servers", p2c_up.bootstrap),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert cli.returncode == 0, cli.stderr
    assert "waiting on account (1)" in cli.stdout and "dead-lettered (accounts." in cli.stdout, cli.stdout
    missing = subprocess.run(
        p2c_command("trace", "accounts", f"NOPE-{uuid.uuid4().hex}", "--bootstrap-servers", p2c_up.bootstrap),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert missing.returncode == 1 and "no record" in missing.stderr, missing


def check_loads(p2c_up: Running, flows: list[dict[str, Any]]) -> None:
    """Each source's full load is done, with its total (the CRM's $count, the ERP's snapshot) and its last poll;
    the console shows the counts per stage."""
    for name, entity in (
        ("accounts", "accounts"),
        ("quotes", "quotedetails"),
        ("products", "CDSReleasedDistinctProducts"),
    ):
        load = next(x for x in next(f for f in flows if f["flow"] == name)["loads"] if x["entity"] == entity)
        assert load["state"] == "done" and load["total"] is not None and load["done"] >= 1, load
        assert load["last_poll_ms"] and load["rate_per_s"] > 0, load
    home = httpx.get(f"{p2c_up.control_url}/", timeout=60).text
    assert 'id="stages-accounts"' in home and "change events" in home and "full load of accounts done" in home


def check_waiting_link(p2c_up: Running, made: dict[str, Any]) -> None:
    """The contact waiting on the dead-lettered account is linked to its letter: in the flows, the letters and
    `p2c dlq list`."""
    account, contact = made["nameless"]["accountid"], made["waits"]["contactid"]

    def linked() -> dict[str, Any] | None:
        flows = httpx.get(f"{p2c_up.control_url}/api/flows", timeout=60).json()["flows"]
        contacts = next(f for f in flows if f["flow"] == "contacts")
        return next((x for x in contacts["waiting_on_dead_letters"] if x["dependency"] == f"accounts:{account}"), None)

    link = wait_for("the waiting contact linked to the account's dead letter", linked, timeout=30, every=1)
    assert contact in link["records"], link
    letters = httpx.get(f"{p2c_up.control_url}/api/dead-letters", params={"flow": "accounts"}, timeout=60).json()
    letter = next(x for x in letters["dead_letters"] if x["id"] == link["dead_letter"])
    assert letter["key"] == account and f"contacts {contact}" in letter["waited_on_by"], letter
    listed = run_p2c("dlq", "list", "--flow", "accounts", "--bootstrap-servers", p2c_up.bootstrap)
    assert f"waited on by 1: contacts {contact}" in listed, listed


def check_processes(p2c_up: Running) -> None:
    """Each process: ready, its API calls per system, its last polls; its own health route; /metrics has them."""
    procs = httpx.get(f"{p2c_up.control_url}/api/processes", timeout=60).json()["processes"]
    by_component = {p["component"]: p for p in procs}
    assert {"source-crm", "source-erp", "streams", "sink-erp", "sink-crm"} <= set(by_component), procs
    crm = by_component["source-crm"]
    assert crm["systems"]["crm"]["calls"] > 0 and crm["last_polls_ms"], crm
    assert by_component["sink-erp"]["systems"]["erp"]["calls"] > 0
    health = httpx.get(f"{p2c_up.control_url}/api/processes/{crm['instance']}/health", timeout=60)
    assert health.status_code == (200 if crm["ready"] else 503) and health.json()["ready"] == crm["ready"]
    assert httpx.get(f"{p2c_up.control_url}/api/processes/nobody@x:1/health", timeout=60).status_code == 404
    metrics = httpx.get(f"{p2c_up.control_url}/metrics", timeout=60).text
    assert (
        'p2c_api_calls_total{component="source-crm"' in metrics and "p2c_source_last_poll_timestamp_seconds" in metrics
    )
