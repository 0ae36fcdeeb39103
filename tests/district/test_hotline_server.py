"""The synthetic 12345 hotline server, spoken to over real loopback HTTP with plain httpx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from district.hotline import Faults, HotlineServer, decode_cursor, encode_cursor

pytestmark = pytest.mark.integration

API = "/api/v1/tickets"
REPO = Path(__file__).resolve().parents[2]


def ticket(no: str, updated_at: str, **extra) -> dict:
    return {"ticketNo": no, "updatedAt": updated_at, **extra}


def write(path: Path, tickets: list[dict], mode: str = "a") -> None:
    with path.open(mode, encoding="utf-8") as f:
        f.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in tickets)


@pytest.fixture
def tickets_file(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.jsonl"
    write(
        path,
        [
            ticket("B2", "2024-05-01 09:00:00", 诉求="路灯不亮", 附件=[{"名": "照片.jpg"}]),
            ticket("A1", "2024-05-01 09:00:00", 诉求="占道经营"),
            ticket("C3", "2024-05-01 08:00:00", 诉求="噪音"),
            ticket("A1", "2024-05-01 10:00:00", 诉求="占道经营", 状态="已办结"),  # update
        ],
        "w",
    )
    return path


@pytest.fixture
def server(tickets_file: Path):
    with HotlineServer(tickets_file) as srv:
        yield srv


def get(server: HotlineServer, path: str = API, **params) -> httpx.Response:
    return httpx.get(server.url + path, params=params, timeout=5)


def test_order_last_line_wins_and_json_shape(server):
    r = get(server)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "路灯不亮".encode() in r.content  # ensure_ascii=False: UTF-8, not \\u escapes
    body = r.json()
    assert [(t["ticketNo"], t["updatedAt"]) for t in body["data"]] == [
        ("C3", "2024-05-01 08:00:00"),
        ("B2", "2024-05-01 09:00:00"),
        ("A1", "2024-05-01 10:00:00"),
    ]
    assert body["data"][2]["状态"] == "已办结" and body["data"][1]["附件"] == [{"名": "照片.jpg"}]
    assert body["next_cursor"] is None and body["total"] == 3


def test_updated_since_is_exclusive_and_total_counts_matches(server):
    body = get(server, updated_since="2024-05-01 09:00:00", page_size=1).json()
    assert [t["ticketNo"] for t in body["data"]] == ["A1"] and body["total"] == 1
    body = get(server, updated_since="2024-05-01 08:59:59", page_size=1).json()
    assert [t["ticketNo"] for t in body["data"]] == ["B2"] and body["total"] == 2
    assert body["next_cursor"]
    nxt = get(server, updated_since="2024-05-01 08:59:59", page_size=1, cursor=body["next_cursor"]).json()
    assert [t["ticketNo"] for t in nxt["data"]] == ["A1"] and nxt["next_cursor"] is None


def test_cursor_is_stable_while_tickets_arrive(server, tickets_file):
    first = get(server, page_size=2).json()
    assert [t["ticketNo"] for t in first["data"]] == ["C3", "B2"]
    # New tickets land before and after the page boundary; the page boundary stays put.
    write(tickets_file, [ticket("Z9", "2024-05-01 11:00:00"), ticket("A0", "2024-05-01 09:00:00")])
    rest = get(server, page_size=2, cursor=first["next_cursor"]).json()
    assert [t["ticketNo"] for t in rest["data"]] == ["A1", "Z9"]
    assert rest["total"] == 5


def test_reload_on_change_and_half_written_last_line(server, tickets_file):
    with tickets_file.open("a", encoding="utf-8") as f:
        f.write('{"ticketNo": "D4", "updatedAt": "2024-05-01 12:00:00", "诉求": "积')
    assert get(server).json()["total"] == 3  # the half line is not served, nor an error
    with tickets_file.open("a", encoding="utf-8") as f:
        f.write('水"}\n')
    assert get(server).json()["data"][-1] == ticket("D4", "2024-05-01 12:00:00", 诉求="积水")


def test_broken_lines_are_skipped_not_fatal(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('not json\n{"ticketNo": "X"}\n{"ticketNo": "Y", "updatedAt": "2024-13-01 00:00:00"}\n'
                    '{"ticketNo": "OK", "updatedAt": "2024-05-01 00:00:00"}\n', encoding="utf-8")
    with HotlineServer(path) as srv:
        assert [t["ticketNo"] for t in get(srv).json()["data"]] == ["OK"]


def test_missing_file_is_an_empty_system(tmp_path):
    path = tmp_path / "later.jsonl"
    with HotlineServer(path) as srv:
        assert get(srv).json() == {"data": [], "next_cursor": None, "total": 0}
        write(path, [ticket("N1", "2024-05-01 00:00:00")])
        assert get(srv).json()["total"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": "0"},
        {"page_size": "1001"},
        {"page_size": "ten"},
        {"page_size": "-5"},
        {"updated_since": "2024-05-01"},
        {"updated_since": "2024-02-30 00:00:00"},
        {"updated_since": "yesterday"},
        {"cursor": "not-a-cursor"},
        {"cursor": encode_cursor("bad", "A1")},
    ],
)
def test_bad_parameters_are_400_with_a_json_error(server, params):
    r = get(server, **params)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json()["error"]


def test_page_size_bounds_are_accepted(server):
    assert len(get(server, page_size=1).json()["data"]) == 1
    assert len(get(server, page_size=1000).json()["data"]) == 3


def test_cursor_round_trip():
    assert decode_cursor(encode_cursor("2024-05-01 09:00:00", "工单/1")) == ("2024-05-01 09:00:00", "工单/1")


def test_health_and_not_found(server):
    assert get(server, "/health").json() == {"status": "ok", "tickets": 3}
    r = get(server, "/api/v1/nope")
    assert r.status_code == 404 and "error" in r.json()
    assert server.request_log == [("/health", 200), ("/api/v1/nope", 404)]


def test_faults_count_down_and_can_be_replaced(server):
    server.faults = Faults(fail_next=1, throttle_next=1, retry_after=7)
    assert get(server, "/health").status_code == 200  # health is never faulted
    assert get(server).status_code == 503
    r = get(server)
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert get(server).status_code == 200
    server.faults = Faults(malformed_once=True)
    r = get(server)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert get(server).json()["total"] == 3
    assert [s for _, s in server.request_log] == [200, 503, 429, 200, 200, 200]


def test_delay_fault_trips_client_timeout_then_clears(server):
    server.faults = Faults(delay=1.0, delay_next=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url + API, timeout=0.2)
    assert get(server).status_code == 200


def test_stop_is_quick_and_idempotent(tickets_file):
    srv = HotlineServer(tickets_file, faults=Faults(delay=5)).start()
    url = srv.url
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url + API, timeout=0.1)  # leaves a handler asleep
    start = time.monotonic()
    srv.stop()
    srv.stop()
    assert time.monotonic() - start < 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=1)


def test_command_line_runs_in_the_foreground(tickets_file):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "district.hotline", "--tickets", str(tickets_file), "--port", "0"],
        stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        line = proc.stdout.readline()
        url = line.strip().rsplit(" at ", 1)[1]
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + API, timeout=5).json()["total"] == 3
    finally:
        proc.terminate()
        proc.wait(timeout=5)
