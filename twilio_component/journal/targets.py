"""What a journal target may be: a ``postgresql://`` URL, or an SQLite file path; why another
is none, said without ever repeating a password."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["is_server", "shown", "target_problem"]

#: The schemes of a PostgreSQL URL, as libpq spells them.
SERVER_SCHEMES = ("postgresql", "postgres")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_KEYWORDS = re.compile(r"\s*[A-Za-z_]+\s*=")
_PASSWORD_KEYWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def is_server(target: str) -> bool:
    """Whether ``target`` names a PostgreSQL server (a ``postgresql://`` URL)."""
    return target.startswith(tuple(f"{scheme}://" for scheme in SERVER_SCHEMES))


def shown(target: str) -> str:
    """``target`` as it may be shown to people: a URL without its password, libpq keywords
    without theirs."""
    if "://" not in target:
        return _PASSWORD_KEYWORD.sub(r"\1********", target)
    scheme, _, rest = target.partition("://")
    credentials, at, place = rest.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}{at}{place}" if at else target


def target_problem(target: str) -> str | None:
    """Why ``target`` names no journal (never repeating a password), or None when it does."""
    if not target.strip():
        return "is empty: give an SQLite file path or a postgresql://user@host/db URL"
    scheme = _SCHEME.match(target)
    if scheme is not None and (len(scheme[1]) > 1 or "://" in target):
        return _url_problem(target, scheme[1])
    if _KEYWORDS.match(target):
        return (
            "looks like libpq keywords (host=… dbname=…); give a postgresql://user@host/db URL "
            "(a password in it is never shown)"
        )
    path = Path(target)
    folder = path.parent
    if path.is_dir():
        return "is a folder: give the path of a journal file in it (created when missing)"
    if not folder.is_dir():
        return "is in a folder that does not exist: create the folder first"
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return "cannot be created: its folder is not writable"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "cannot be read and written: check its permissions"
    return None


def _url_problem(target: str, scheme: str) -> str | None:
    if scheme.lower() in SERVER_SCHEMES and scheme not in SERVER_SCHEMES:
        return f"write the scheme in lower case: {scheme.lower()}://…"
    if scheme not in SERVER_SCHEMES:
        return (
            f"{scheme}: is not a journal; give an SQLite file path or a "
            "postgresql://user@host/db URL"
        )
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if not parts.hostname and "host=" not in parts.query:
        return "names no server: postgresql://user@host/db"
    if not parts.path.strip("/"):
        return "names no database: postgresql://user@host/db"
    return None
