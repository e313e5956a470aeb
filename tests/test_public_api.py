"""The package's public surface: curated names, importable lazily, typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import twilio_component
from twilio_component.errors import ComponentError


def test_every_public_name_resolves() -> None:
    for name in twilio_component.__all__:
        assert getattr(twilio_component, name) is not None


def test_public_errors_derive_from_component_error() -> None:
    for name in twilio_component.__all__:
        value = getattr(twilio_component, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, ComponentError), name


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    heavy = "('requests', 'jsonschema', 'pluggy', 'yaml')"
    code = f"import sys, twilio_component; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_package_is_typed() -> None:
    assert (Path(twilio_component.__file__).parent / "py.typed").is_file()


def test_all_lists_exactly_the_lazy_exports() -> None:
    assert sorted(twilio_component.__all__) == sorted(twilio_component._EXPORTS)
