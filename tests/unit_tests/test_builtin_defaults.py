"""The built-in prompt and schema per medium (what a fresh account runs): each one names
itself, and the schema as sent carries that name, so a change of defaults (a new
version) is a new cache key and new Document ids rather than stale results."""

from __future__ import annotations

import pytest

from langchain_vlmrun.documents.builtin import DEFAULTS_VERSION, default_for

MEDIA = ["document", "image", "audio", "video"]


@pytest.mark.parametrize("medium", MEDIA)
def test_each_default_names_its_medium_and_version(medium: str) -> None:
    chosen = default_for(medium)  # type: ignore[arg-type]
    assert chosen.medium == medium
    assert chosen.key == f"default:{medium}:{DEFAULTS_VERSION}"
    sent = chosen.request_schema()
    assert sent["$comment"] == f"langchain-vlmrun default default:{medium}:{DEFAULTS_VERSION}"
    assert {k: v for k, v in sent.items() if k != "$comment"} == chosen.schema
    assert "$comment" not in chosen.schema  # the stored schema is left as it is


def test_the_four_defaults_are_four_different_requests() -> None:
    chosen = [default_for(m) for m in MEDIA]  # type: ignore[arg-type]
    assert len({d.key for d in chosen}) == 4 and len({d.prompt for d in chosen}) == 4
    assert len({repr(d.request_schema()) for d in chosen}) == 4
