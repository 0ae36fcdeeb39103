"""Paged JSON over HTTP: any API that answers `{items_key: [...], next_key: cursor|null}`.

`fetch_pages` walks the cursor chain and yields one page (a list of dicts) at a time, so
memory stays bounded by the page size. Transient failures (connect errors, timeouts, 5xx,
429) are retried with exponential backoff and jitter; what cannot succeed by retrying
(other 4xx, a body that is not the expected JSON) fails at once. Every error is a
`SourceError` whose message names the source, the URL (no credentials, no query string)
and the cause, and is fit to show a user as is.

`records_to_table` turns the parsed records into an all-text Arrow table for the raw layer.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pyarrow as pa

from connectors.errors import SourceError, SourceUnavailable, safe_url

__all__ = ["fetch_pages", "records_to_table"]

_ERROR_TEXT_LIMIT = 200


def fetch_pages(
    base_url: str,
    path: str,
    *,
    since: str | None = None,
    since_param: str = "updated_since",
    cursor_param: str = "cursor",
    page_size: int = 500,
    page_size_param: str = "page_size",
    items_key: str = "data",
    next_key: str = "next_cursor",
    params: dict | None = None,
    timeout: float = 10.0,
    max_retries: int = 5,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    client: httpx.Client | None = None,
    source: str = "",
) -> Iterator[list[dict]]:
    """Yield the pages of `GET base_url/path`, following `next_key` cursors to the end.

    `since` is sent as `since_param` (the API treats it as exclusive); `params` are extra
    query parameters sent with every page. Empty pages are not yielded.

    Incremental loads: the caller computes the next watermark itself, as the maximum
    `updatedAt` (or whatever the API's change stamp is) over the records it received, and
    passes it as `since` next time — only after the pages are safely stored, so a failed
    load is simply re-run from the old watermark. With an exclusive, second-resolution
    stamp a record written later within that same second would be skipped; loaders that
    cannot rule this out should pass a slightly earlier `since` and de-duplicate.

    `max_retries` is the number of attempts per page (so 5 means at most 4 retries).
    `timeout` applies to each request, also on a caller-supplied `client`. Raises
    `SourceUnavailable` when the attempts are exhausted, `SourceError` for anything else.
    """
    url = f"{base_url.rstrip('/')}/{path.lstrip('/')}"
    shown = safe_url(url)
    label = f"{source}: {shown}" if source else shown
    query: dict[str, Any] = dict(params or {})
    query[page_size_param] = page_size
    if since is not None:
        query[since_param] = since

    own_client = client is None
    http = client or httpx.Client(follow_redirects=False)
    try:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            if cursor is not None:
                query[cursor_param] = cursor
            body = _get_json(
                http, url, query, label=label, timeout=timeout, attempts=max(1, max_retries),
                backoff=backoff, max_backoff=max_backoff,
            )
            items = body.get(items_key) if isinstance(body, dict) else None
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise SourceError(f"{label}: answer has no list of records under {items_key!r}")
            if items:
                yield items
            cursor = body.get(next_key)
            if cursor is None or cursor == "":
                return
            cursor = str(cursor)
            # A server that hands back a cursor it already gave would page forever.
            if cursor in seen:
                raise SourceError(f"{label}: server repeated a page cursor; stopping to avoid a loop")
            seen.add(cursor)
    finally:
        if own_client:
            http.close()


def _get_json(
    http: httpx.Client, url: str, query: dict[str, Any], *, label: str, timeout: float,
    attempts: int, backoff: float, max_backoff: float,
) -> Any:
    """One page, retried while the failure looks transient."""
    cause = ""
    for attempt in range(1, attempts + 1):
        wait: float | None = None  # None: the usual exponential backoff
        try:
            response = http.get(url, params=query, timeout=timeout)
        except httpx.TimeoutException:
            cause = f"timed out after {timeout:g}s"
        except httpx.ConnectError as exc:
            cause = "connection refused" if "refused" in str(exc).lower() else f"cannot connect: {_short(str(exc)) or type(exc).__name__}"
        except httpx.TransportError as exc:  # reset mid-answer, protocol garbage
            cause = f"{type(exc).__name__}: {_short(str(exc))}".rstrip(": ")
        else:
            status = response.status_code
            if 200 <= status < 300:
                try:
                    return json.loads(response.content)
                except (ValueError, UnicodeDecodeError) as exc:
                    # Not retried: a server that sends broken JSON usually keeps doing so.
                    raise SourceError(f"{label}: answer is not valid JSON ({exc})") from None
            if status == 429:
                cause = "HTTP 429 Too Many Requests"
                wait = _retry_after(response.headers.get("Retry-After"))
            elif status >= 500:
                cause = f"HTTP {status} {_error_text(response)}".rstrip()
            else:
                raise SourceError(f"{label}: HTTP {status} {_error_text(response)}".rstrip())
        if attempt < attempts:
            if wait is None:
                ceiling = min(max_backoff, backoff * 2 ** (attempt - 1))
                wait = random.uniform(ceiling / 2, ceiling)  # jitter: clients do not retry in lockstep
            time.sleep(min(max(wait, 0.0), max_backoff))
    raise SourceUnavailable(f"{label} unreachable after {attempts} attempt{'s' if attempts != 1 else ''} ({cause})")


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date; None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _error_text(response: httpx.Response) -> str:
    """The server's own explanation, trimmed: `error`/`message` of a JSON body, else the text."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str):
                return _short(body[key])
    try:
        return _short(response.text)
    except UnicodeDecodeError:
        return ""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_TEXT_LIMIT else text[: _ERROR_TEXT_LIMIT - 1] + "…"


def records_to_table(records: list[dict], columns: list[str] | None = None) -> pa.Table:
    """Records as an all-string Arrow table, losing nothing the raw layer must keep.

    Columns: `columns` in that order (if given), then every other top-level key in
    first-seen order. Values: strings as received; ints as ints; floats by `repr` (so
    they parse back to the same float; NaN/Infinity as JSON spells them); bools as
    'true'/'false'; null — and a key a record lacks — as null; objects and lists as
    compact JSON text (ensure_ascii=False), so `json.loads` gives back the original.
    """
    names: list[str] = list(dict.fromkeys(columns or []))
    known = set(names)
    for record in records:
        for key in record:
            if key not in known:
                known.add(key)
                names.append(key)
    if not names:  # records without keys still count as rows
        return pa.Table.from_struct_array(pa.array([{}] * len(records), type=pa.struct([])))
    return pa.table(
        {name: pa.array([_text(record.get(name)) for record in records], type=pa.string()) for name in names}
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)  # repr, except NaN/Infinity in the spelling json.loads reads
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)  # e.g. Decimal from a parse_float hook: its own exact text
