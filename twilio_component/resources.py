"""Finds the files shipped with a package: the core's schemas/, a component's descriptor.

In a built wheel they live in a ``data`` folder inside the package that reads them, found with
importlib.resources; in a source checkout (an editable install) they are the top-level files
of the repository.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


@cache
def data_root(package: str = "twilio_component") -> Traversable:
    """The folder holding ``package``'s shipped files (the core's: schemas/)."""
    packaged = resources.files(package) / "data"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent


def read_text(relative: str) -> str:
    """The text of a shipped file, by its path relative to the data root."""
    node = data_root()
    for part in relative.split("/"):
        node = node / part
    return node.read_text(encoding="utf-8")
