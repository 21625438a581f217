"""Seed determinism and idempotency, tokens, and the rate limiter."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from p2c.sandbox.odata.auth import Authority, TokenError
from p2c.sandbox.odata.ratelimit import RateLimiter
from p2c.sandbox.seed import SeedCounts, seed


def test_seed_is_deterministic_and_idempotent(tmp_path: Path) -> None:
    counts = SeedCounts(accounts=20, contacts=20, products=20, quotes=10)
    added = seed(tmp_path / "a", counts, seed=7)
    assert added["accounts"] == 20 and added["contacts"] == 20 and added["quotes"] == 10
    assert added["CDSReleasedDistinctProducts"] == 20
    assert seed(tmp_path / "a", counts, seed=7) == {}
    seed(tmp_path / "b", counts, seed=7)
    query = "SELECT accountnumber, name, address1_country FROM accounts ORDER BY accountid"
    rows = [sqlite3.connect(tmp_path / d / "crm" / "crm.sqlite").execute(query).fetchall() for d in ("a", "b")]
    assert rows[0] == rows[1]
    crm = sqlite3.connect(tmp_path / "a" / "crm" / "crm.sqlite")
    external = {
        r[0] for r in crm.execute("SELECT productnumber FROM products WHERE msdynce_ismaintainedexternally = 1")
    }
    erp = sqlite3.connect(tmp_path / "a" / "erp" / "erp.sqlite")
    sellable = {
        r[0]
        for r in erp.execute(
            'SELECT "ItemNumber" FROM productdefaultordersettings WHERE "IsSalesProcessingStopped" = \'No\''
        )
    }
    assert external == sellable
    states = {r[0] for r in crm.execute("SELECT DISTINCT statecode FROM quotes")}
    assert states <= {0, 1}


def test_seed_lines_per_quote_can_be_fixed(tmp_path: Path) -> None:
    added = seed(tmp_path, SeedCounts(accounts=5, contacts=5, products=5, quotes=4, lines=5), seed=7)
    assert added["quotes"] == 4 and added["quotedetails"] == 20


def test_tokens(tmp_path: Path) -> None:
    authority = Authority({"p2c": "s3cret"}, tmp_path / "key", audience="crm")
    form = b"grant_type=client_credentials&client_id=p2c&client_secret=s3cret&scope=https%3A%2F%2Fx%2F.default"
    issued = authority.issue(form, "tenant")
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 3599
    assert authority.client_of(f"Bearer {issued['access_token']}") == "p2c"
    again = Authority({"p2c": "s3cret"}, tmp_path / "key", audience="crm")  # a restart keeps tokens valid
    assert again.client_of(f"Bearer {issued['access_token']}") == "p2c"
    assert authority.client_of(f"Bearer {issued['access_token']}x") is None
    assert authority.client_of(None) is None
    with pytest.raises(TokenError) as err:
        authority.issue(form.replace(b"s3cret", b"wrong"), "tenant")
    assert err.value.status == 401 and err.value.error == "invalid_client"
    with pytest.raises(TokenError):
        authority.issue(form.replace(b"client_credentials", b"password"), "tenant")


def test_rate_limiter_sliding_window() -> None:
    now = [100.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.check("a") == 0 and limiter.check("a") == 0
    assert limiter.check("a") == 1
    assert limiter.check("b") == 0  # per client
    now[0] += 1.01
    assert limiter.check("a") == 0
    assert RateLimiter(None).check("a") == 0
