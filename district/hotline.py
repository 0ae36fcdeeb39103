"""The synthetic district's 12345 hotline system: a real HTTP server on loopback.

It serves the tickets in `<district>/systems/hotline/tickets.jsonl` (one JSON object per
line, `ticketNo` + `updatedAt` 'YYYY-MM-DD HH:MM:SS' required; a later line for the same
ticketNo is an update and replaces the earlier one) the way a departmental web API would:

    GET /api/v1/tickets?updated_since=<ts, exclusive>&cursor=<opaque>&page_size=<1..1000>
        -> {"data": [...], "next_cursor": "..." | null, "total": <count since updated_since>}
    GET /health -> {"status": "ok", "tickets": N}

Tickets are ordered by (updatedAt, ticketNo) and paged by keyset: the cursor encodes the
last key served, so a page boundary stays put while new tickets are appended (they sort
after it, or — if back-dated — are left for nobody, exactly like a real keyset API).
The file is re-read whenever its mtime or size changes, so tickets appear between polls.

Stdlib only so it starts in milliseconds inside tests. `Faults` injects the failures a
connector must survive (503s, 429 + Retry-After, slow answers, a truncated body).

    python -m district.hotline --tickets PATH [--host 127.0.0.1] [--port N]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

TICKETS_PATH = "/api/v1/tickets"
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
_TS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


@dataclass
class Faults:
    """Failures to inject. Counters count down as requests consume them; replace the
    whole object at runtime (`server.faults = Faults(...)`) to arm new ones.
    `/health` is never faulted, so readiness probes do not eat the armed failures."""

    fail_next: int = 0  # answer the next N requests with 503
    throttle_next: int = 0  # answer the next N requests with 429 + Retry-After
    retry_after: float | str = 1  # seconds, or an HTTP-date string
    delay: float = 0.0  # sleep this long before answering (to trip client timeouts)
    delay_next: int | None = None  # how many requests get the delay; None = every one
    malformed_once: bool = False  # send one truncated JSON body with status 200


def valid_timestamp(value: str) -> bool:
    if not _TS.fullmatch(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return True


def encode_cursor(updated_at: str, ticket_no: str) -> str:
    raw = json.dumps([updated_at, ticket_no], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """Inverse of `encode_cursor`; ValueError for anything a client made up."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, ticket_no = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise ValueError("cursor is not one this server issued") from exc
    if not (isinstance(updated_at, str) and isinstance(ticket_no, str) and valid_timestamp(updated_at)):
        raise ValueError("cursor is not one this server issued")
    return updated_at, ticket_no


class TicketStore:
    """The tickets file, parsed into an immutable sorted snapshot; re-read on change."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        # Parallel lists, swapped as one tuple so readers never see a half-built snapshot.
        self._snapshot: tuple[list[tuple[str, str]], list[str], list[dict[str, Any]]] = ([], [], [])

    def snapshot(self) -> tuple[list[tuple[str, str]], list[str], list[dict[str, Any]]]:
        """(keys, updatedAt values, tickets), all sorted by (updatedAt, ticketNo)."""
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None  # not generated yet: an empty system, not an error
        with self._lock:
            if stamp != self._stamp:
                self._snapshot = self._load() if stamp else ([], [], [])
                self._stamp = stamp
            return self._snapshot

    def _load(self) -> tuple[list[tuple[str, str]], list[str], list[dict[str, Any]]]:
        latest: dict[str, dict[str, Any]] = {}
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        lines = text.split("\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                ticket = json.loads(line)
            except ValueError:
                # The last line may be half-written by a concurrent appender; the size
                # will change when it is finished and we re-read then.
                if number != len(lines):
                    log.warning("%s:%d: not JSON, skipped", self.path, number)
                continue
            no, ts = (ticket.get("ticketNo"), ticket.get("updatedAt")) if isinstance(ticket, dict) else (None, None)
            if not (isinstance(no, str) and isinstance(ts, str) and valid_timestamp(ts)):
                log.warning("%s:%d: missing ticketNo/updatedAt, skipped", self.path, number)
                continue
            latest.pop(no, None)
            latest[no] = ticket  # last line wins
        tickets = sorted(latest.values(), key=lambda t: (t["updatedAt"], t["ticketNo"]))
        keys = [(t["updatedAt"], t["ticketNo"]) for t in tickets]
        return keys, [k[0] for k in keys], tickets


class BadRequest(ValueError):
    pass


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"{name} given more than once")
    return values[0]


def query_tickets(store: TicketStore, query: dict[str, list[str]]) -> dict[str, Any]:
    """One page of the tickets API for a parsed query string."""
    since = _one(query, "updated_since")
    cursor = _one(query, "cursor")
    size_text = _one(query, "page_size")
    if since is not None and not valid_timestamp(since):
        raise BadRequest("updated_since must be 'YYYY-MM-DD HH:MM:SS'")
    page_size = DEFAULT_PAGE_SIZE
    if size_text is not None:
        if not re.fullmatch(r"\d{1,7}", size_text) or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
            raise BadRequest(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}")
        page_size = int(size_text)
    after: tuple[str, str] | None = None
    if cursor:
        try:
            after = decode_cursor(cursor)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    keys, stamps, tickets = store.snapshot()
    first = bisect.bisect_right(stamps, since) if since is not None else 0
    start = max(first, bisect.bisect_right(keys, after)) if after else first
    end = min(start + page_size, len(tickets))
    more = end < len(tickets)
    return {
        "data": tickets[start:end],
        "next_cursor": encode_cursor(*keys[end - 1]) if more and end > start else None,
        "total": len(tickets) - first,
    }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a deliberately slow answer
    hotline: "HotlineServer"


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "Hotline12345/1.0"

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        hotline = self.server.hotline
        split = urlsplit(self.path)
        fault = None if split.path == "/health" else hotline._take_fault()
        delay, status, body, headers = fault or (0.0, 0, None, {})
        if not status:  # no error injected: answer for real (body may be a malformed override)
            status, payload = self._route(hotline, split.path, split.query)
            body = _json(payload) if body is None else body
        assert body is not None
        hotline._log(split.path, status)  # before the delay, so a timed-out client still shows up
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test): nothing to answer

    def _route(self, hotline: "HotlineServer", path: str, query: str) -> tuple[int, Any]:
        if path == "/health":
            return 200, {"status": "ok", "tickets": len(hotline.store.snapshot()[2])}
        if path == TICKETS_PATH:
            try:
                return 200, query_tickets(hotline.store, parse_qs(query, keep_blank_values=True))
            except BadRequest as exc:
                return 400, {"error": str(exc)}
        return 404, {"error": f"no such endpoint: {path}"}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class HotlineServer:
    """The hotline API on a loopback port, served from a daemon thread.

    with HotlineServer(path) as server:
        httpx.get(server.url + "/api/v1/tickets")
    """

    def __init__(
        self,
        tickets_path: str | os.PathLike,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
    ) -> None:
        self.store = TicketStore(tickets_path)
        self.host, self.port = host, port
        self.faults = faults or Faults()
        self.request_log: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("hotline server is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> "HotlineServer":
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self.port), _Handler)
            self._httpd.hotline = self
            # A short poll interval makes stop() return in milliseconds, not the default 0.5 s.
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="hotline-12345", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
            if self._thread is not None:
                self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Foreground mode for the CLI: start, then block until interrupted."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> "HotlineServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log(self, path: str, status: int) -> None:
        with self._lock:
            self.request_log.append((path, status))

    def _take_fault(self) -> tuple[float, int, bytes | None, dict[str, str]] | None:
        """Consume one armed fault: (delay, status or 0, body override, extra headers)."""
        with self._lock:
            f = self.faults
            delay = 0.0
            if f.delay and (f.delay_next is None or f.delay_next > 0):
                delay = f.delay
                if f.delay_next is not None:
                    f.delay_next -= 1
            if f.fail_next > 0:
                f.fail_next -= 1
                return delay, 503, _json({"error": "service temporarily unavailable"}), {}
            if f.throttle_next > 0:
                f.throttle_next -= 1
                ra = f.retry_after
                value = str(int(ra)) if isinstance(ra, (int, float)) and float(ra).is_integer() else str(ra)
                return delay, 429, _json({"error": "too many requests"}), {"Retry-After": value}
            if f.malformed_once:
                f.malformed_once = False
                return delay, 0, b'{"data": [{"ticketNo": "T', {}
            return (delay, 0, None, {}) if delay else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m district.hotline", description="Run the synthetic 12345 hotline API.")
    parser.add_argument("--tickets", required=True, help="path to tickets.jsonl")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    server = HotlineServer(args.tickets, host=args.host, port=args.port)
    server.start()
    print(f"12345 hotline serving {args.tickets} at {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
