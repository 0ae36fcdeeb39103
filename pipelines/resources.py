import dagster as dg

from citybase.config import Settings


class CitybaseHome(dg.ConfigurableResource):
    """Where citybase keeps everything; empty means CITYBASE_HOME (or ~/.citybase)."""

    home: str = ""

    def settings(self) -> Settings:
        return Settings.from_env(self.home or None)
