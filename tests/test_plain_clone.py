"""A plain clone passes: every file the tests read is inside the repository."""

from __future__ import annotations

from conftest import OUTSIDE_READS, REPOSITORY
from openapi import DATA, load_spec, spec_path


def test_the_official_api_description_is_read_from_the_repository() -> None:
    assert spec_path().is_relative_to(REPOSITORY)
    assert load_spec()["info"]["title"]


def test_the_api_description_ships_with_its_licence() -> None:
    assert "MIT" in (DATA / "LICENSE-twilio-oai").read_text(encoding="utf-8")


def test_the_reference_page_seed_is_in_the_repository() -> None:
    assert (DATA / "twilio_v1.md").read_text(encoding="utf-8").startswith("---")


def test_nothing_beside_the_repository_was_opened_so_far() -> None:
    assert OUTSIDE_READS == []
