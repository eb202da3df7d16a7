"""Built-in prompts and JSON schemas per medium: what runs when no agent or prompt is given.

A fresh VLM Run account has no agents of its own, so ``VLMRunLoader(paths)``,
``VLMRunParser()`` and ``VLMRunAgentTool(root_dir=...)`` send, per file, the prompt and
schema of its medium (chosen from the file's sniffed type):

==========  ============================================  =================================
medium      the response                                  Documents
==========  ============================================  =================================
document    ``pages``: page number + markdown (tables as   one per page (``page``,
            markdown, figures described)                  ``total_pages``)
image       ``text`` (all visible text) + ``description``  one
audio       ``segments``: start/end seconds, speaker,     one per segment, or per window of
            transcript                                    ``segment_seconds`` (merged)
video       ``segments``: start/end seconds, transcript,  as for audio, with what is shown
            what is shown
==========  ============================================  =================================

They are data, versioned by :data:`DEFAULTS_VERSION`: the version is part of every
request's schema (``$comment``), so cache keys and Document ids change when the
defaults do. A user's ``prompt``, ``agent_name`` or schema replaces them.

Example:
    >>> default_for("audio").schema["properties"]["segments"]["items"]["required"]
    ['start', 'end', 'text']
    >>> DEFAULT_WAIT_TIMEOUTS["video"]
    3600.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_vlmrun.files._types import Medium

__all__ = [
    "DEFAULTS_VERSION",
    "DEFAULT_WAIT_TIMEOUTS",
    "MediumDefault",
    "default_for",
]

#: Bumped whenever a prompt or schema below changes.
DEFAULTS_VERSION = "2026-11-25"

#: Seconds to wait for an execution by medium when no timeout is set: long recordings
#: take many minutes. A timeout error says how to resume (``client.wait(id)``).
DEFAULT_WAIT_TIMEOUTS: dict[Medium, float] = {
    "document": 600.0,
    "image": 300.0,
    "audio": 1800.0,
    "video": 3600.0,
}

_SECONDS = {"type": "number", "minimum": 0, "description": "seconds from the start"}

_SCHEMAS: dict[Medium, dict[str, Any]] = {
    "document": {
        "type": "object",
        "properties": {
            "pages": {
                "type": "array",
                "description": "every page, in order",
                "items": {
                    "type": "object",
                    "properties": {
                        "page": {"type": "integer", "minimum": 0, "description": "0-based"},
                        "content": {
                            "type": "string",
                            "description": "the page as markdown: headings, lists, tables as "
                            "markdown tables, figures and charts described in words",
                        },
                    },
                    "required": ["page", "content"],
                },
            }
        },
        "required": ["pages"],
    },
    "image": {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "all visible text, in reading order"},
            "description": {"type": "string", "description": "what the image shows"},
        },
        "required": ["text", "description"],
    },
    "audio": {
        "type": "object",
        "properties": {
            "segments": {
                "type": "array",
                "description": "the transcript in time order",
                "items": {
                    "type": "object",
                    "properties": {
                        "start": _SECONDS,
                        "end": _SECONDS,
                        "speaker": {"type": ["string", "null"], "description": "if known"},
                        "text": {"type": "string", "description": "what was said"},
                    },
                    "required": ["start", "end", "text"],
                },
            }
        },
        "required": ["segments"],
    },
    "video": {
        "type": "object",
        "properties": {
            "segments": {
                "type": "array",
                "description": "the video in time order",
                "items": {
                    "type": "object",
                    "properties": {
                        "start": _SECONDS,
                        "end": _SECONDS,
                        "text": {"type": "string", "description": "what is said (transcript)"},
                        "description": {"type": "string", "description": "what is shown"},
                    },
                    "required": ["start", "end", "text", "description"],
                },
            }
        },
        "required": ["segments"],
    },
}

_PROMPTS: dict[Medium, str] = {
    "document": (
        "Convert this document to markdown, page by page. Keep headings, lists and "
        "reading order; write tables as markdown tables; describe figures and charts in "
        "words. Number pages from 0."
    ),
    "image": (
        "Transcribe all text visible in this image in reading order, then describe what "
        "the image shows."
    ),
    "audio": (
        "Transcribe this recording as time-stamped segments: start and end in seconds, the "
        "speaker when it can be told apart, and what was said."
    ),
    "video": (
        "Describe this video as time-stamped segments: start and end in seconds, what is "
        "said (transcript) and what is shown."
    ),
}


@dataclass(frozen=True)
class MediumDefault:
    """The prompt and JSON schema run on one medium when the user gave neither."""

    medium: Medium
    prompt: str
    schema: dict[str, Any] = field(repr=False)
    version: str = DEFAULTS_VERSION

    @property
    def key(self) -> str:
        """Names this default in Document ids (``default:<medium>:<version>``)."""
        return f"default:{self.medium}:{self.version}"

    def request_schema(self) -> dict[str, Any]:
        """The schema as sent: versioned, so a change of defaults is a new cache key."""
        return {**self.schema, "$comment": f"langchain-vlmrun default {self.key}"}


def default_for(medium: Medium) -> MediumDefault:
    """The built-in prompt and schema for ``medium``."""
    return MediumDefault(medium, _PROMPTS[medium], _SCHEMAS[medium])
