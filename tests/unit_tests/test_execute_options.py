"""ExecuteOptions: each option lands where VLM Run's own SDK puts it in the execute body,
and only the options that can change a result key the cache and the Document ids."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from langchain_vlmrun import ExecuteOptions
from langchain_vlmrun.client._operations import ExecuteRequest
from langchain_vlmrun.client._options import InlineSkill, SkillReference

EVERYTHING = ExecuteOptions(
    model="vlmrun-orion-1:fast",
    skills=[
        SkillReference(skill_id="invoices"),
        InlineSkill(name="n", description="d", bundle="UEsD"),
    ],
    service_tier="flex",
    execution_mode="program",
    orchestration_mode=False,
    toolsets=["ocr", "web"],
    environment="staging",
    session_id="s-1",
)
#: An inline skill as the SDK sends it: the zip in ``source``, beside ``skill_version``.
INLINE_SENT = {
    "type": "inline",
    "name": "n",
    "description": "d",
    "skill_version": "latest",
    "source": {"type": "base64", "media_type": "application/zip", "data": "UEsD"},
}


def test_every_option_lands_where_the_sdk_puts_it() -> None:
    body = ExecuteRequest(id="r-1", prompt="p", options=EVERYTHING).body()
    assert body == {
        "id": "r-1",
        "name": None,
        "batch": True,
        "inputs": {},
        "config": {
            "skills": [
                {"type": "skill_reference", "skill_id": "invoices", "skill_version": "latest"},
                INLINE_SENT,
            ],
            "service_tier": "flex",
            "mode": "program",
            "orchestration_mode": False,  # False is sent: it is a choice, not a default
            "prompt": "p",
        },
        "metadata": {"allow_training": False, "environment": "staging", "session_id": "s-1"},
        "model": "vlmrun-orion-1:fast",
        "toolsets": ["ocr", "web"],
    }


def test_unset_options_send_nothing() -> None:
    plain = ExecuteRequest(id="r-1", prompt="p").body()
    assert ExecuteRequest(id="r-1", prompt="p", options=ExecuteOptions()).body() == plain
    assert ExecuteOptions().config_fields() == {}
    assert ExecuteOptions().metadata_fields() == {}
    assert ExecuteOptions().result_fields() == {}


def test_only_options_that_change_a_result_key_the_cache() -> None:
    assert EVERYTHING.result_fields() == {
        "skills": [
            {"type": "skill_reference", "skill_id": "invoices", "skill_version": "latest"},
            INLINE_SENT,
        ],
        "mode": "program",
        "orchestration_mode": False,
        "model": "vlmrun-orion-1:fast",
        "toolsets": ["ocr", "web"],
    }  # not the tier (price, routing) nor the metadata labels
    labels_only = ExecuteOptions(service_tier="priority", environment="dev", session_id="x")
    assert labels_only.result_fields() == {}
    assert labels_only.metadata_fields() == {"environment": "dev", "session_id": "x"}


def test_options_are_checked_when_built() -> None:
    with pytest.raises(ValidationError, match="modle"):
        ExecuteOptions(modle="vlmrun-orion-1:fast")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ExecuteOptions(service_tier="cheap")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="options must be an ExecuteOptions, got dict"):
        ExecuteRequest(prompt="p", options={"model": "x"})  # type: ignore[arg-type]


def test_an_inline_skill_bundle_stays_out_of_reprs() -> None:
    skill = InlineSkill(name="n", description="d", bundle="UEsDBBQ-secret-zip")
    assert "UEsDBBQ" not in repr(skill) and "UEsDBBQ" not in repr(ExecuteOptions(skills=[skill]))
