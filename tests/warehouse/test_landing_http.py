"""Landing the hotline: incremental by updatedAt over real loopback HTTP, nothing lost or doubled."""

import json

import duckdb
import pytest

from connectors.errors import SourceUnavailable
from district.hotline import Faults, HotlineServer
from warehouse.landing import HttpDatasetSpec, load_http
from warehouse.raw import RawStore

pytestmark = pytest.mark.integration

SPEC = HttpDatasetSpec("ticket", "/api/v1/tickets", watermark_field="updatedAt", key_field="ticketNo", page_size=50)


def append(path, tickets):
    with path.open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in tickets)


def landed(store):
    rel = store.relation(duckdb.connect(), "hotline", "ticket")
    return sorted(rel.select('"ticketNo", "updatedAt"').fetchall())


def test_incremental_polls_take_each_change_once(tmp_path):
    tickets = tmp_path / "tickets.jsonl"
    append(tickets, [{"ticketNo": f"T{i:04d}", "updatedAt": f"2026-10-01 09:{i // 60:02d}:{i % 60:02d}", "history": [{"status": "受理"}]} for i in range(120)])
    store = RawStore(tmp_path / "raw")
    with HotlineServer(tickets) as server:
        first = load_http(store, source="hotline", spec=SPEC, base_url=server.url)
        assert first.rows == 120 and first.watermark_after == "2026-10-01 09:01:59"
        assert load_http(store, source="hotline", spec=SPEC, base_url=server.url).rows == 0

        # Written after the poll, but stamped in the watermark's own second: must not be lost.
        append(tickets, [{"ticketNo": "LATE", "updatedAt": "2026-10-01 09:01:59"}])
        # An update of an old ticket and a new one.
        append(tickets, [{"ticketNo": "T0000", "updatedAt": "2026-10-02 10:00:00", "status": "办结"}])
        third = load_http(store, source="hotline", spec=SPEC, base_url=server.url)
        assert third.rows == 2
        assert load_http(store, source="hotline", spec=SPEC, base_url=server.url).rows == 0
    rows = landed(store)
    assert ("LATE", "2026-10-01 09:01:59") in rows and ("T0000", "2026-10-02 10:00:00") in rows
    assert len(rows) == 122 == len(set(rows))
    nested = store.relation(duckdb.connect(), "hotline", "ticket").filter("\"ticketNo\" = 'T0001'").select("history").fetchall()[0][0]
    assert json.loads(nested) == [{"status": "受理"}]


def test_transient_failures_are_retried_and_failed_loads_leave_nothing(tmp_path):
    tickets = tmp_path / "tickets.jsonl"
    append(tickets, [{"ticketNo": f"T{i}", "updatedAt": "2026-10-01 09:00:00"} for i in range(10)])
    store = RawStore(tmp_path / "raw")
    with HotlineServer(tickets, faults=Faults(fail_next=2)) as server:
        assert load_http(store, source="hotline", spec=SPEC, base_url=server.url).rows == 10
    with HotlineServer(tickets, faults=Faults(fail_next=100)) as server:
        with pytest.raises(SourceUnavailable, match="unreachable after"):
            load_http(store, source="hotline", spec=SPEC, base_url=server.url, full_refresh=True)
    assert len(store.batches("hotline", "ticket")) == 1
