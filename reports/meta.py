"""What a workbook proves about itself: the signed metadata on its very hidden sheet.

The `_meta` sheet holds, in column A, one JSON line per cell: first the form (template id
and version, unit, period, form id, layout, issued-content digest), then the row keys in
issued order, then `sig:<HMAC-SHA256 hex>` over everything above. A returned workbook whose
signature does not verify was not issued by this citybase (or was edited): it is refused
before any of its values are read.

The key comes from config (`CITYBASE_REPORT_KEY`, else a random key created once under the
home, mode 0600): never from the code, so a leaked repository forges nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

META_SHEET = "_meta"
MAGIC = "citybase-一表通"


@dataclass(frozen=True)
class FormMeta:
    form_id: str
    template_id: str
    template_version: int
    unit_code: str
    unit_name: str
    period: str
    digest: str              # sha256 of the issued content (reports.prefill.digest)
    first_data_row: int      # 0-based sheet row of the first data row
    rows: int                # data rows issued
    issued_at: str           # ISO timestamp, UTC


def lines(meta: FormMeta, keys: list[str], key: bytes) -> list[str]:
    """The `_meta` sheet's column A, top to bottom."""
    body = [json.dumps({"magic": MAGIC, **asdict(meta)}, ensure_ascii=False, sort_keys=True),
            *(json.dumps(k, ensure_ascii=False) for k in keys)]
    return [*body, "sig:" + _mac(body, key)]


class MetaError(ValueError):
    """The metadata is missing, malformed or its signature does not verify."""


def parse(cells: list[str], key: bytes) -> tuple[FormMeta, list[str]]:
    """Verify and read the `_meta` column; raise MetaError (message in Chinese) otherwise."""
    if len(cells) < 2 or not str(cells[-1]).startswith("sig:"):
        raise MetaError("工作簿的签名信息缺失或不完整：请使用系统下发的原始工作簿填报")
    body, sig = [str(c) for c in cells[:-1]], str(cells[-1])[4:]
    if not hmac.compare_digest(_mac(body, key), sig):
        raise MetaError("工作簿签名校验失败：文件不是本系统下发的，或隐藏的元数据被改动过")
    try:
        head = json.loads(body[0])
        head.pop("magic")
        meta = FormMeta(**head)
        keys = [json.loads(k) for k in body[1:]]
    except (ValueError, TypeError, KeyError) as exc:
        raise MetaError(f"工作簿元数据无法解析：{type(exc).__name__}") from None
    if len(keys) != meta.rows:
        raise MetaError("工作簿元数据中的行数与行标识不一致")
    return meta, keys


def _mac(body: list[str], key: bytes) -> str:
    return hmac.new(key, "\n".join(body).encode("utf-8"), hashlib.sha256).hexdigest()


def signing_key(home: Path) -> bytes:
    """CITYBASE_REPORT_KEY (hex or text), else `<home>/reports/signing.key`, created once."""
    env = os.environ.get("CITYBASE_REPORT_KEY")
    if env:
        return env.encode("utf-8")
    path = home / "reports" / "signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # first writer wins; a concurrent second keeps the first's key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip().encode("utf-8")


def digest(values: list[list[str | None]]) -> str:
    """sha256 over issued rows (each a list of cell texts), order included."""
    h = hashlib.sha256()
    for row in values:
        h.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
