"""The hooks a component plugin implements, and the markers to implement them with."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from twilio_component.component import Component

PROJECT = "twilio_component"
#: Entry-point group through which third-party components (and ours) are found.
ENTRY_POINT_GROUP = "twilio_component"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_components(register: Callable[[Component], None]) -> None:
    """Register components by calling ``register(component)`` once for each."""


#: The hooks a plugin may implement (a misspelt one is refused when the host loads).
HOOKS = ("register_components",)
