"""Errors a connector raises. Each message names what failed and why, and never carries
credentials or personal data (URLs are shown with the password masked)."""

from __future__ import annotations

from sqlalchemy.engine import make_url


class SourceError(Exception):
    """Base class: a source could not be read. `str(err)` is fit to show a user."""


class SourceUnavailable(SourceError):
    """The source system could not be reached (connection refused, timeouts, 5xx after retries)."""


class UnreadableFile(SourceError):
    """A delivered file cannot be read as what it claims to be (encoding, format, corruption)."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def safe_url(url: str) -> str:
    """A URL fit for messages and logs: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        # Not an SQLAlchemy URL (HTTP etc.): drop any userinfo part.
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return url
