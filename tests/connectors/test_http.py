"""connectors.http against the district's real hotline server on loopback."""

from __future__ import annotations

import json
import math
import socket
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import SourceError, SourceUnavailable
from connectors.http import _retry_after, fetch_pages, records_to_table
from district.hotline import Faults, HotlineServer

pytestmark = pytest.mark.integration

API = "/api/v1/tickets"
SOURCE = "12345热线 hotline"
BASE = datetime(2024, 3, 1, 8, 0, 0)
FAST = dict(backoff=0.01, max_backoff=0.05, source=SOURCE)  # retries without slow tests


def ticket(i: int, *, second: int | None = None, **extra) -> dict:
    """Three tickets share each second, so ordering must fall back to ticketNo."""
    stamp = BASE + timedelta(seconds=i // 3 if second is None else second)
    return {
        "ticketNo": f"T{i:06d}",
        "updatedAt": stamp.strftime("%Y-%m-%d %H:%M:%S"),
        "title": "夜间施工噪音投诉",
        "handlers": [{"dept": "城管局", "step": 1}],
        **extra,
    }


def append(path: Path, tickets: list[dict]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in tickets)


@pytest.fixture
def tickets_file(tmp_path: Path) -> Path:
    path = tmp_path / "systems" / "hotline" / "tickets.jsonl"
    path.parent.mkdir(parents=True)
    path.touch()
    return path


@pytest.fixture
def server(tickets_file: Path):
    with HotlineServer(tickets_file) as srv:
        yield srv


def fetch_all(server: HotlineServer, **kw) -> list[dict]:
    return [t for page in fetch_pages(server.url, API, **{**FAST, **kw}) for t in page]


def keys(tickets: list[dict]) -> list[tuple[str, str]]:
    return [(t["updatedAt"], t["ticketNo"]) for t in tickets]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- paging and incremental polls -----------------------------------------------------


def test_pages_through_every_ticket_once_in_order(server, tickets_file):
    append(tickets_file, [ticket(i) for i in range(1234)])
    pages = list(fetch_pages(server.url, API, page_size=100, **FAST))
    assert [len(p) for p in pages] == [100] * 12 + [34]
    got = [t for p in pages for t in p]
    assert [t["ticketNo"] for t in got] == [f"T{i:06d}" for i in range(1234)]
    assert keys(got) == sorted(keys(got))
    assert len(server.request_log) == 13 and {s for _, s in server.request_log} == {200}


def test_updated_since_is_exclusive(server, tickets_file):
    append(tickets_file, [ticket(i) for i in range(30)])  # seconds 0..9, three each
    since = (BASE + timedelta(seconds=4)).strftime("%Y-%m-%d %H:%M:%S")
    got = fetch_all(server, since=since, page_size=7)
    assert [t["ticketNo"] for t in got] == [f"T{i:06d}" for i in range(15, 30)]
    assert all(t["updatedAt"] > since for t in got)


def test_tickets_appended_while_paging_are_neither_lost_nor_duplicated(server, tickets_file):
    append(tickets_file, [ticket(i) for i in range(500)])
    received: list[dict] = []
    for n, page in enumerate(fetch_pages(server.url, API, page_size=100, **FAST)):
        received += page
        if n == 1:  # mid-poll: new tickets arrive, later than anything so far
            append(tickets_file, [ticket(i) for i in range(500, 560)])
    # Poll 2 from the watermark the caller computes, after more tickets arrived (later
    # than the watermark; for same-second arrivals see the next test).
    append(tickets_file, [ticket(i, second=1000 + i) for i in range(560, 600)])
    watermark = max(t["updatedAt"] for t in received)
    received += fetch_all(server, since=watermark, page_size=100)
    assert sorted(t["ticketNo"] for t in received) == [f"T{i:06d}" for i in range(600)]
    # Poll 3: nothing new, nothing repeated.
    assert fetch_all(server, since=max(t["updatedAt"] for t in received)) == []


def test_same_second_arrivals_need_an_overlapping_poll(server, tickets_file):
    """An exclusive second-resolution watermark skips a ticket stamped in the watermark's
    own second but written after the poll; polling from one second earlier and dropping
    what was already received closes that gap."""
    append(tickets_file, [ticket(0, second=7)])
    first = fetch_all(server)
    append(tickets_file, [ticket(1, second=7)])  # same second, arrives late
    watermark = max(t["updatedAt"] for t in first)
    assert fetch_all(server, since=watermark) == []  # the gap

    overlap = (datetime.strptime(watermark, "%Y-%m-%d %H:%M:%S") - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    already = set(keys(first))
    fresh = [t for t in fetch_all(server, since=overlap) if (t["updatedAt"], t["ticketNo"]) not in already]
    assert [t["ticketNo"] for t in fresh] == ["T000001"]


def test_last_line_wins_and_updates_show_up_on_the_next_poll(server, tickets_file):
    append(tickets_file, [ticket(0), ticket(1), ticket(0, second=5, status="已受理")])
    first = fetch_all(server)
    assert keys(first) == [("2024-03-01 08:00:00", "T000001"), ("2024-03-01 08:00:05", "T000000")]
    assert first[1]["status"] == "已受理"

    append(tickets_file, [ticket(1, second=9, status="已办结")])
    second = fetch_all(server, since=max(t["updatedAt"] for t in first))
    assert [(t["ticketNo"], t["status"]) for t in second] == [("T000001", "已办结")]


def test_extra_params_and_custom_keys_are_passed_through(server, tickets_file):
    append(tickets_file, [ticket(i) for i in range(5)])
    got = fetch_all(server, params={"page_size": 1, "district": "金水区"}, page_size=2)
    assert len(got) == 5  # page_size argument wins over the one in params
    assert len(server.request_log) == 3


# ---- retries ----------------------------------------------------------------------------


def test_503_twice_then_success(server, tickets_file):
    append(tickets_file, [ticket(i) for i in range(3)])
    server.faults = Faults(fail_next=2)
    assert len(fetch_all(server)) == 3
    assert [s for _, s in server.request_log] == [503, 503, 200]


def test_429_retry_after_is_honoured(server, tickets_file):
    append(tickets_file, [ticket(0)])
    server.faults = Faults(throttle_next=1, retry_after=1)
    start = time.monotonic()
    assert len(fetch_all(server, max_backoff=5)) == 1
    assert time.monotonic() - start >= 0.95
    assert [s for _, s in server.request_log] == [429, 200]


def test_retry_after_is_capped_by_max_backoff(server, tickets_file):
    append(tickets_file, [ticket(0)])
    server.faults = Faults(throttle_next=1, retry_after=3600)
    start = time.monotonic()
    assert len(fetch_all(server, max_backoff=0.2)) == 1
    assert time.monotonic() - start < 2


def test_retry_after_http_date():
    soon = (datetime.now(timezone.utc) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 25 < _retry_after(soon) <= 30
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert _retry_after("2") == 2.0 and _retry_after("soon") is None and _retry_after(None) is None


def test_timeouts_are_retried(server, tickets_file):
    append(tickets_file, [ticket(0)])
    server.faults = Faults(delay=1.0, delay_next=1)
    start = time.monotonic()
    assert len(fetch_all(server, timeout=0.25)) == 1
    assert time.monotonic() - start < 1.0  # did not wait for the slow answer
    assert len(server.request_log) == 2


def test_persistent_5xx_gives_source_unavailable(server):
    server.faults = Faults(fail_next=10)
    with pytest.raises(SourceUnavailable) as err:
        fetch_all(server, max_retries=3)
    assert "unreachable after 3 attempts (HTTP 503 service temporarily unavailable)" in str(err.value)
    assert len(server.request_log) == 3


def test_unreachable_port_names_source_url_and_cause():
    port = free_port()
    start = time.monotonic()
    with pytest.raises(SourceUnavailable) as err:
        list(fetch_pages(f"http://reader:s3cret@127.0.0.1:{port}", API, max_retries=5, **FAST))
    message = str(err.value)
    assert message == f"{SOURCE}: http://reader:***@127.0.0.1:{port}{API} unreachable after 5 attempts (connection refused)"
    assert "s3cret" not in message and "Traceback" not in message
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert time.monotonic() - start < 2


def test_timeout_message_when_attempts_run_out(server):
    server.faults = Faults(delay=0.5)
    with pytest.raises(SourceUnavailable, match=r"unreachable after 2 attempts \(timed out after 0.1s\)"):
        fetch_all(server, timeout=0.1, max_retries=2)


# ---- answers that retrying cannot fix -----------------------------------------------------


def test_malformed_json_is_a_source_error_not_retried(server, tickets_file):
    append(tickets_file, [ticket(0)])
    server.faults = Faults(malformed_once=True)
    with pytest.raises(SourceError) as err:
        fetch_all(server)
    assert type(err.value) is SourceError
    assert str(err.value).startswith(f"{SOURCE}: {server.url}{API}: answer is not valid JSON")
    assert len(server.request_log) == 1


def test_missing_items_key_is_a_source_error(server):
    with pytest.raises(SourceError, match="no list of records under 'data'"):
        list(fetch_pages(server.url, "/health", **FAST))


def test_bad_request_names_status_and_server_text(server):
    with pytest.raises(SourceError) as err:
        fetch_all(server, page_size=5000)
    assert type(err.value) is SourceError
    assert str(err.value) == f"{SOURCE}: {server.url}{API}: HTTP 400 page_size must be an integer from 1 to 1000"
    assert len(server.request_log) == 1  # 4xx is not retried


def test_not_found(server):
    with pytest.raises(SourceError, match="HTTP 404 no such endpoint: /api/v2/tickets"):
        list(fetch_pages(server.url, "api/v2/tickets", **FAST))


def test_caller_supplied_client_is_left_open(server, tickets_file):
    append(tickets_file, [ticket(i) for i in range(3)])
    with httpx.Client() as client:
        assert sum(map(len, fetch_pages(server.url, API, client=client, page_size=2))) == 3
        assert not client.is_closed


# ---- records_to_table -----------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
records = st.lists(st.dictionaries(st.sampled_from(["ticketNo", "内容", "a", "b", "c"]), json_values), max_size=6)


def _back(text: str | None, original):
    """How the raw layer reads a value back, knowing the original's JSON type."""
    if isinstance(original, (dict, list, bool)) or original is None:
        return None if text is None else json.loads(text)
    return type(original)(text)


@settings(max_examples=100, deadline=None)
@given(records)
def test_records_to_table_round_trip(recs):
    table = records_to_table(recs)
    assert all(str(f.type) == "string" for f in table.schema)
    rows = table.to_pylist()
    assert len(rows) == len(recs)
    for rec, row in zip(recs, rows):
        assert set(row) >= set(rec)
        for key, value in rec.items():
            assert _back(row[key], value) == value


def test_records_to_table_columns_and_rendering():
    recs = [
        {"b": 1, "a": True, "n": None, "f": 0.1},
        {"c": {"处理": ["城管", 2]}, "a": False, "f": 1e300, "x": float("nan"), "big": 2**70},
    ]
    table = records_to_table(recs, columns=["a", "zz", "a"])
    assert table.column_names == ["a", "zz", "b", "n", "f", "c", "x", "big"]
    rows = table.to_pylist()
    assert rows[0] == {"a": "true", "zz": None, "b": "1", "n": None, "f": "0.1", "c": None, "x": None, "big": None}
    assert rows[1]["a"] == "false" and rows[1]["f"] == "1e+300" and rows[1]["big"] == str(2**70)
    assert rows[1]["c"] == '{"处理":["城管",2]}'
    assert math.isnan(json.loads(rows[1]["x"]))
    assert records_to_table([]).num_columns == 0
    assert records_to_table([{}, {}]).num_rows == 2
    assert records_to_table([], columns=["a"]).to_pylist() == []
