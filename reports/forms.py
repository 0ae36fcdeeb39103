"""Form instances and their states: 下发 → 已提交 → 退回 / 通过 (DHIS2's data set registration).

One SQLite file under the home (`<home>/reports/forms.sqlite`, WAL) holds the instances and an
append-only event log. SQLite because state changes are small transactions that a CLI, a
Dagster sensor and the staff portal make concurrently; every transition is a single
UPDATE … WHERE state IN (allowed) so two racing actors cannot both win.

    form_id = '<template>:<period>:<unit_code>'
"""

from __future__ import annotations

import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ISSUED, SUBMITTED, RETURNED, APPROVED = "下发", "已提交", "退回", "通过"
STATES = (ISSUED, SUBMITTED, RETURNED, APPROVED)
# action: (states it may start from, state it leads to)
TRANSITIONS = {
    "issue": ((ISSUED, RETURNED), ISSUED),  # (re-)issue; a returned form keeps its comment
    "submit": ((ISSUED, RETURNED), SUBMITTED),
    "return": ((SUBMITTED,), RETURNED),
    "approve": ((SUBMITTED,), APPROVED),
}
ACTION_LABELS = {"issue": "下发", "submit": "提交", "return": "退回", "approve": "审核通过", "download": "下载", "refuse": "拒收",
                 "summary": "下载汇总表", "download_submitted": "下载已提交工作簿"}

SCHEMA = """
create table if not exists form_instance (
    form_id text primary key,
    template_id text not null, template_version integer not null, period text not null,
    unit_code text not null, unit_name text not null, level text not null, parent_code text,
    state text not null check (state in ('下发', '已提交', '退回', '通过')),
    issued_at text not null, due_date text not null,
    submitted_at text, reviewed_at text, reviewer text, comment text,
    rows integer not null, cells integer not null, prefilled integer not null,
    digest text not null, workbook text not null, submissions integer not null default 0
);
create index if not exists form_by_template on form_instance (template_id, period);
create table if not exists form_event (
    id integer primary key autoincrement,
    form_id text not null, at text not null, action text not null,
    actor text, origin text, detail text
);
create index if not exists event_by_form on form_event (form_id);
"""


class StateError(ValueError):
    """A transition the form's state does not allow (message in Chinese)."""


@dataclass(frozen=True)
class FormInstance:
    form_id: str
    template_id: str
    template_version: int
    period: str
    unit_code: str
    unit_name: str
    level: str
    parent_code: str | None
    state: str
    issued_at: str
    due_date: str
    submitted_at: str | None
    reviewed_at: str | None
    reviewer: str | None
    comment: str | None
    rows: int
    cells: int
    prefilled: int
    digest: str
    workbook: str
    submissions: int

    @property
    def prefilled_share(self) -> float:
        return self.prefilled / self.cells if self.cells else 0.0


def form_id(template_id: str, period: str, unit_code: str) -> str:
    return f"{template_id}:{period}:{unit_code}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SqliteStore:
    """A small SQLite file shared by the CLI, Dagster and the portal: WAL, autocommit (explicit
    transactions where needed), waiting for a busy writer rather than failing."""

    def __init__(self, path: Path, schema: str):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(schema)

    @contextmanager
    def _connect(self):
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as con:
            con.execute("pragma journal_mode=wal")
            con.execute("pragma busy_timeout=30000")
            con.row_factory = sqlite3.Row
            yield con


class FormStore(SqliteStore):
    def __init__(self, home: Path):
        super().__init__(home / "reports" / "forms.sqlite", SCHEMA)

    # ---- reading ----------------------------------------------------------------------------
    def get(self, fid: str) -> FormInstance | None:
        with self._connect() as con:
            row = con.execute("select * from form_instance where form_id = ?", [fid]).fetchone()
        return FormInstance(**dict(row)) if row else None

    def list(self, template_id: str | None = None, period: str | None = None,
             units: list[str] | None = None) -> list[FormInstance]:
        sql, args = "select * from form_instance where 1=1", []
        if template_id:
            sql, args = sql + " and template_id = ?", [*args, template_id]
        if period:
            sql, args = sql + " and period = ?", [*args, period]
        with self._connect() as con:
            rows = con.execute(sql + " order by template_id, period, unit_code", args).fetchall()
        found = [FormInstance(**dict(r)) for r in rows]
        return found if units is None else [f for f in found if f.unit_code in set(units)]

    def events(self, fid: str | None = None) -> list[dict]:
        with self._connect() as con:
            rows = con.execute("select * from form_event" + (" where form_id = ?" if fid else "") + " order by id",
                               [fid] if fid else []).fetchall()
        return [dict(r) for r in rows]

    # ---- writing ----------------------------------------------------------------------------
    def issue(self, instances: list[dict], actor: str = "system") -> list[str]:
        """Insert new instances or re-issue those still 下发/退回; submitted and approved forms
        keep what they were issued. Returns the form ids (re-)issued."""
        done = []
        with self._connect() as con:
            con.execute("begin immediate")
            for inst in instances:
                row = con.execute("select state from form_instance where form_id = ?", [inst["form_id"]]).fetchone()
                if row is None:
                    cols = ", ".join(inst)
                    con.execute(f"insert into form_instance ({cols}, state) values ({', '.join('?' * len(inst))}, ?)",
                                [*inst.values(), ISSUED])
                elif row["state"] in TRANSITIONS["issue"][0]:
                    sets = ", ".join(f"{k} = ?" for k in inst if k != "form_id")
                    con.execute(f"update form_instance set {sets} where form_id = ?",
                                [*(v for k, v in inst.items() if k != "form_id"), inst["form_id"]])
                else:
                    continue
                con.execute("insert into form_event (form_id, at, action, actor) values (?, ?, 'issue', ?)",
                            [inst["form_id"], inst["issued_at"], actor])
                done.append(inst["form_id"])
            con.execute("commit")
        return done

    def transition(self, fid: str, action: str, actor: str, origin: str | None = None, comment: str | None = None,
                   expect_digest: str | None = None) -> FormInstance:
        """Move a form along the state machine, atomically; StateError if its state forbids it."""
        allowed, target = TRANSITIONS[action]
        stamp = now()
        sets = {"state": target}
        if action == "submit":
            sets |= {"submitted_at": stamp}
        if action in ("return", "approve"):
            sets |= {"reviewed_at": stamp, "reviewer": actor, "comment": comment}
        with self._connect() as con:
            con.execute("begin immediate")
            where = f"form_id = ? and state in ({', '.join('?' * len(allowed))})"
            args = [fid, *allowed]
            if expect_digest is not None:
                where, args = where + " and digest = ?", [*args, expect_digest]
            extra = ", submissions = submissions + 1" if action == "submit" else ""
            cur = con.execute(f"update form_instance set {', '.join(f'{k} = ?' for k in sets)}{extra} where {where}",
                              [*sets.values(), *args])
            if cur.rowcount != 1:
                row = con.execute("select state from form_instance where form_id = ?", [fid]).fetchone()
                con.execute("rollback")
                if row is None:
                    raise StateError(f"没有这张报表（{fid}）")
                if expect_digest is not None and row["state"] in allowed:
                    raise StateError("这张报表已重新下发，请下载最新的工作簿后再填报")
                raise StateError(f"报表当前状态为「{row['state']}」，不能{ACTION_LABELS[action]}")
            con.execute("insert into form_event (form_id, at, action, actor, origin, detail) values (?, ?, ?, ?, ?, ?)",
                        [fid, stamp, action, actor, origin, comment])
            con.execute("commit")
        return self.get(fid)

    def log(self, fid: str, action: str, actor: str, origin: str | None = None, detail: str | None = None) -> None:
        """An event that changes no state (a download, a refused upload)."""
        with self._connect() as con:
            con.execute("insert into form_event (form_id, at, action, actor, origin, detail) values (?, ?, ?, ?, ?, ?)",
                        [fid, now(), action, actor, origin, detail])
