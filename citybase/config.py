"""The one place for configuration: environment variables with defaults under one home directory.

    CITYBASE_HOME                   everything citybase writes (default ~/.citybase)
    CITYBASE_<SOURCE>_URL           where a departmental system lives, e.g.
                                    CITYBASE_MEDICAL_INSURANCE_URL=postgresql+psycopg://user@host/db
    CITYBASE_INBOX                  the folder departments drop files into (default <home>/inbox)

Defaults point at the synthetic district under <home>/district, so a fresh clone runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path

    @classmethod
    def from_env(cls, home: str | os.PathLike | None = None) -> "Settings":
        chosen = home or os.environ.get("CITYBASE_HOME") or Path.home() / ".citybase"
        return cls(Path(chosen).expanduser().resolve())

    # ---- the home layout -------------------------------------------------------------
    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def raw_dir(self) -> Path:
        return self.home / "raw"

    @property
    def inbox_dir(self) -> Path:
        return Path(os.environ.get("CITYBASE_INBOX") or self.home / "inbox")

    @property
    def district_dir(self) -> Path:
        """The synthetic district: its departmental systems, exports and ground truth."""
        return self.home / "district"

    def inbox(self, source: str) -> Path:
        return self.inbox_dir / source

    # ---- where departmental systems are ----------------------------------------------
    def source_url(self, source: str) -> str:
        """URL of a departmental system: CITYBASE_<SOURCE>_URL, else the synthetic district's."""
        env = f"CITYBASE_{source.upper()}_URL"
        if os.environ.get(env):
            return os.environ[env]
        default = _DISTRICT_DEFAULTS.get(source)
        if default is None:
            raise KeyError(f"no URL configured for source {source!r}: set {env}")
        return default(self)


_DISTRICT_DEFAULTS = {
    "medical_insurance": lambda s: f"sqlite:///{s.district_dir / 'systems' / 'medical_insurance.sqlite'}",
    "pension": lambda s: f"sqlite:///{s.district_dir / 'systems' / 'pension.sqlite'}",
    # The district's hotline server picks a free port; `citybase demo`/`ui` export the URL.
    "hotline": lambda s: "http://127.0.0.1:18345",
}


def settings(home: str | os.PathLike | None = None) -> Settings:
    return Settings.from_env(home)
