"""The demo tells the seed's story (DOMAIN.md, Bến Tre 2023), checked through the API of the
embedded default as ``scripts/run`` starts it (``python -m embedded``, demo data loaded):

- the register at the end of 2023, rebuilt from the decisions' certificates: 200 certified products
  of 76 producers, 110 at 3★ and 90 at 4★, 16 of the 4★ proposed for national evaluation;
- 2023's progress: 45 new products (2 community-tourism products, group 6), 40 re-certifications,
  30 upgrades, each against its target;
- today: every product still current (re-certified before its 36 months ran out), so /statistics
  shows the same figures; decisions list many products each, Vĩnh Long's after the 2025 merger;
- the fairs: Ho Chi Minh City, the Mekong Delta, the centre and the north, and a showcase at a
  tourist site; the events service's read model follows the register.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
import requests
from e2e.deployment import PYTHON, Client, process_env
from support import SERVICES, platform_env, real_mode, wait_for

pytestmark = pytest.mark.skipif(real_mode(), reason="the demo is the embedded default's (scripts/run)")

END_2023 = date(2023, 12, 31)


@pytest.fixture
def demo(tmp_path, procs) -> Client:
    env = process_env(platform_env(tmp_path, "demo"))
    proc = procs.start("embedded", [PYTHON, "-m", "embedded"], env)
    client = Client({s: f"http://127.0.0.1:{env[f'OCOP_{s.upper()}_PORT']}" for s in SERVICES})

    def up():
        assert proc.poll() is None, procs.tail("embedded")
        try:
            return all(requests.get(client.urls[s] + "/readyz", timeout=2).ok for s in SERVICES)
        except requests.RequestException:
            return False

    wait_for(up, timeout=90, interval=0.2, message="the embedded demo up")
    return client


def get(client: Client, service: str, path: str, **params):
    r = client.call("GET", service, path, "trade_officer", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def all_decisions(client: Client) -> list[dict]:
    """Every decision with its certificates."""
    listed = get(client, "registry", "/decisions", per_page=500)
    assert listed["total"] == len(listed["items"])
    return [get(client, "registry", f"/decisions/{d['id']}") for d in listed["items"]]


def test_the_demo_tells_ben_tre_2023(demo):
    products = get(demo, "registry", "/products", per_page=500)
    assert products["total"] == 200
    producer_of = {p["id"]: p["producer_id"] for p in products["items"]}

    # The register at the end of 2023, from the decisions dated up to then.
    decisions = all_decisions(demo)
    latest: dict[str, dict] = {}
    for decision in sorted(decisions, key=lambda d: d["date"]):
        assert decision["level"] == "province" and decision["kind"] != "revoke"
        for cert in decision["certificates"]:
            if date.fromisoformat(cert["decision_date"]) <= END_2023:
                latest[cert["product_id"]] = cert
    assert all(date.fromisoformat(c["valid_until"]) > END_2023 for c in latest.values())  # none had lapsed
    assert len(latest) == 200 and len({producer_of[p] for p in latest}) == 76
    assert Counter(c["stars"] for c in latest.values()) == {3: 110, 4: 90}
    proposed = [c for c in latest.values() if c["proposed_for_national_evaluation"]]
    assert len(proposed) == 16 and {c["stars"] for c in proposed} == {4}
    assert all(c["score"] >= 90 for c in proposed)

    # 2023 against its targets: met exactly, the two community-tourism products among the new ones.
    progress = {m["measure"]: m for m in get(demo, "registry", "/statistics/progress", year=2023)["measures"]}
    assert {m: (v["target"], v["achieved"]) for m, v in progress.items()} == {
        "new_certifications": (45, 45),
        "recertifications": (40, 40),
        "upgrades": (30, 30),
        "community_tourism": (2, 2),
    }
    tourism = get(demo, "registry", "/products", group=6)
    assert tourism["total"] == 2
    new_2023 = {
        c["product_id"]
        for d in decisions
        if d["date"].startswith("2023") and d["kind"] == "certify"
        for c in d["certificates"]
        if c["kind"] == "new"
    }
    assert len(new_2023) == 45 and {p["id"] for p in tourism["items"]} <= new_2023

    # Decisions are the province's: one lists many products (DOMAIN.md's 1358/QĐ-UBND of 20/7/2021),
    # 5★ never (only the national level certifies it), Vĩnh Long's after the merger.
    example = next(d for d in decisions if d["number"] == "1358/QĐ-UBND")
    assert example["date"] == "2021-07-20" and example["issued_by"] == "UBND tỉnh Bến Tre"
    assert len(example["certificates"]) == 30
    assert all(c["stars"] in (3, 4) for d in decisions for c in d["certificates"])
    after_merger = [d for d in decisions if d["date"] >= "2025-07-01"]
    assert after_merger and {d["issued_by"] for d in after_merger} == {"UBND tỉnh Vĩnh Long"}
    assert {d["issued_by"] for d in decisions if d["date"] < "2025-07-01"} == {"UBND tỉnh Bến Tre"}

    # Today: each product re-certified before its 36 months ran out, so the register is still the
    # end-2023 one and no certificate is due for its 30-day notice.
    stats = get(demo, "registry", "/statistics")
    assert (stats["certified_products"], stats["producers"], stats["by_stars"], stats["potential_five_star"]) == (
        200,
        76,
        {"3": 110, "4": 90},
        16,
    )
    assert stats["by_group"]["6"] == 2
    potential = get(demo, "registry", "/products", potential_five_star="true", per_page=500)
    assert potential["total"] == 16 and {p["stars"] for p in potential["items"]} == {4}
    soon = (date.today() + timedelta(days=31)).isoformat()
    assert get(demo, "registry", "/products", expiring_before=soon)["total"] == 0
    assert get(demo, "registry", "/products", status="current")["total"] == 200

    # The events service's read model follows: the newest decision's products with its validity, and
    # the 16 potential 5★ products as 4★.
    newest = max(decisions, key=lambda d: d["date"])

    def caught_up():
        for cert in newest["certificates"] + [{"product_id": p["id"]} for p in potential["items"]]:
            r = demo.call("GET", "events", f"/catalogue/{cert['product_id']}", "trade_officer")
            if r.status_code != 200:
                return False
            row = r.json()
            if "valid_until" in cert and row["valid_until"] != cert["valid_until"]:
                return False
            if cert["product_id"] in {p["id"] for p in potential["items"]} and (
                row["stars"],
                row["potential_five_star"],
            ) != (4, True):
                return False
        return True

    wait_for(caught_up, timeout=90, interval=0.5, message="the events read model to follow the demo register")


def test_the_demo_fairs_cover_the_seeds_promise(demo):
    fairs = get(demo, "events", "/fairs")
    regions = {f["region"] for f in fairs}
    assert {"southeast", "mekong_delta", "north_central_coast", "red_river_delta"} <= regions
    assert any(f["host_province"] == "Hồ Chí Minh" for f in fairs)
    tourist = [f for f in fairs if f["kind"] == "showcase_point" and f["venue_kind"] == "tourist_site"]
    assert len(tourist) == 1 and "Cồn Phụng" in tourist[0]["venue"]
    assert any(f["kind"] == "showcase_point" and f["venue_kind"] == "airport" for f in fairs)
    assert all(f["organiser_contact"] and f["organiser_phone"] for f in fairs)

    # The home showcase ranks the province's own products once the read model has them.
    def ranked():
        picks = get(demo, "events", f"/fairs/{tourist[0]['id']}/preview", limit=100)
        return picks if len(picks) >= 20 else None

    picks = wait_for(ranked, timeout=90, interval=0.5, message="the tourist-site showcase's ranking")
    assert all(p["products"] for p in picks)
