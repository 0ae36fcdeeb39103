"""Portal accounts, login throttling and who may see which unit.

Accounts live in `<home>/portal/accounts.sqlite`: a user belongs to one org unit and acts for
it and everything under it (a 网格 worker for their grid; a 社区 or 街道 reviewer for their
units; the 区 for the whole district). Passwords are hashed with argon2id. Failed logins are
counted per user name and per address over a window; past the limit, logins wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from reports.forms import SqliteStore

HASHER = PasswordHasher()
# A hash to verify against when the user does not exist, so a wrong name costs the same time.
_DUMMY = HASHER.hash("citybase-no-such-user")
MAX_FAILURES, WINDOW_SECONDS = 5, 15 * 60

SCHEMA = """
create table if not exists account (
    username text primary key, display_name text not null, org_code text not null,
    password_hash text not null, created_at real not null
);
create table if not exists login_failure (username text, origin text, at real not null);
create index if not exists failure_by_user on login_failure (username, at);
create index if not exists failure_by_origin on login_failure (origin, at);
"""


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    org_code: str


class Accounts(SqliteStore):
    def __init__(self, home: Path):
        super().__init__(home / "portal" / "accounts.sqlite", SCHEMA)

    def add(self, username: str, password: str, org_code: str, display_name: str) -> Account:
        if len(password) < 8:
            raise ValueError("密码至少 8 位")
        with self._connect() as con:
            con.execute("insert or replace into account values (?, ?, ?, ?, ?)",
                        [username, display_name, org_code, HASHER.hash(password), time.time()])
        return Account(username, display_name, org_code)

    def get(self, username: str) -> Account | None:
        with self._connect() as con:
            row = con.execute("select username, display_name, org_code from account where username = ?", [username]).fetchone()
        return Account(*row) if row else None

    def throttled(self, username: str, origin: str) -> bool:
        since = time.time() - WINDOW_SECONDS
        with self._connect() as con:
            by_user = con.execute("select count(*) from login_failure where username = ? and at > ?", [username, since]).fetchone()[0]
            by_origin = con.execute("select count(*) from login_failure where origin = ? and at > ?", [origin, since]).fetchone()[0]
        return by_user >= MAX_FAILURES or by_origin >= 4 * MAX_FAILURES

    def authenticate(self, username: str, password: str, origin: str) -> Account | None:
        """The account if the password is right; a failure is counted otherwise."""
        with self._connect() as con:
            row = con.execute("select username, display_name, org_code, password_hash from account where username = ?",
                              [username]).fetchone()
        try:
            HASHER.verify(row[3] if row else _DUMMY, password)
            ok = row is not None
        except (VerificationError, InvalidHashError):
            ok = False
        with self._connect() as con:
            if ok:
                con.execute("delete from login_failure where username = ?", [username])
            else:
                con.execute("insert into login_failure values (?, ?, ?)", [username, origin, time.time()])
        return Account(*row[:3]) if ok else None


@dataclass(frozen=True)
class OrgTree:
    """The org tree, to scope every request to a user's unit and the units under it."""

    name: dict[str, str]
    level: dict[str, str]
    parent: dict[str, str | None]

    @classmethod
    def load(cls, con) -> "OrgTree":
        rows = con.sql("select org_code, org_name, org_level, parent_code from org_unit").fetchall()
        return cls({r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows}, {r[0]: r[3] for r in rows})

    def ancestors(self, code: str) -> list[str]:
        out, seen = [], set()
        while code is not None and code not in seen:
            seen.add(code)
            out.append(code)
            code = self.parent.get(code)
        return out

    def within(self, code: str, scope: str) -> bool:
        """Is unit `code` the unit `scope` or under it?"""
        return scope in self.ancestors(code)

    def below(self, code: str, scope: str) -> bool:
        """Strictly under `scope`: what a reviewer at `scope` reviews."""
        return code != scope and self.within(code, scope)

    def path(self, code: str) -> str:
        """'如意湖街道 / 康宁街社区 / 康宁街社区第1网格' (the 区 left out)."""
        return " / ".join(self.name.get(c, c) for c in reversed(self.ancestors(code)) if self.level.get(c) != "区")
