"""Compose the cassettes of the per-medium examples: ``python -m tests.compose_media_cassettes``.

A fresh account has no agents, so every example here runs the built-in default of its
file's medium (``langchain_vlmrun.documents.builtin``) and every response below has the shape
that default's schema asks for, with what the sample file really holds:

- ``examples/data/report.pdf`` (a 2-page scan: page images, no text layer):
  ``pages[{page, content}]``;
- ``examples/data/receipt.png``: ``{text, description}``;
- ``examples/data/meeting.mp3`` (14.5 s, one synthetic voice; sentences end at 1.9,
  6.0, 9.0 and 14.0 s): ``segments[{start, end, speaker, text}]``;
- ``examples/data/demo.mp4`` (8 s of the ffmpeg test pattern with a seconds counter;
  its sound is the first 8 s of the meeting, cut in the third sentence):
  ``segments[{start, end, text, description}]``.

The execution ``name`` is null: nothing was run by name, and what the service reports
for a prompt-only execution is not documented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cassette_kit import execute_and_poll, upload, write

MODULE = "tests.compose_media_cassettes"
DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
REPORT_PDF = DATA / "report.pdf"
RECEIPT_PNG = DATA / "receipt.png"
MEETING_MP3 = DATA / "meeting.mp3"
DEMO_MP4 = DATA / "demo.mp4"

FILE_IDS = {
    REPORT_PDF: "0d6b2f8e-4a1c-4e3b-9f57-3c8a1e6d2b40",
    RECEIPT_PNG: "1e7c3a9f-5b2d-4f4c-8a68-4d9b2f7e3c51",
    MEETING_MP3: "2f8d4b0a-6c3e-4a5d-9b79-5eac308f4d62",
    DEMO_MP4: "3a9e5c1b-7d4f-4b6e-8c8a-6fbd4190ae73",
}
EXECUTIONS = {
    REPORT_PDF: "4b0f6d2c-8e5a-4c7f-9d9b-70ce52a1bf84",
    RECEIPT_PNG: "5c1a7e3d-9f6b-4d8a-8eac-81df63b2c095",
    MEETING_MP3: "6d2b8f4e-0a7c-4e9b-9fbd-92ea74c3d1a6",
    DEMO_MP4: "7e3c9a5f-1b8d-4fac-8ace-a3fb85d4e2b7",
}
#: The RAG example loads report.pdf then meeting.mp3 (one execution each).
RAG_EXECUTIONS = {
    REPORT_PDF: "8f4dab60-2c9e-4abd-9bdf-b40c96e5f3c8",
    MEETING_MP3: "9a5ebc71-3daf-4bce-8ce0-c51da7f604d9",
}

# --- what the built-in defaults get back for each sample file --------------------------

REPORT_DEFAULT: dict[str, Any] = {
    "pages": [
        {
            "page": 0,
            "content": (
                "# Acme Corp Quarterly Report Q2 2024\n\n"
                "Revenue grew 12% quarter over quarter.\n\n"
                "**Revenue by region**\n\n"
                "| Region | Revenue (USD m) |\n"
                "| --- | --- |\n"
                "| EMEA | 41.2 |\n"
                "| Americas | 37.9 |"
            ),
        },
        {
            "page": 1,
            "content": (
                "# Outlook\n\n"
                "The Lisbon warehouse opens in September 2024.\n\n"
                "Average delivery time fell from 5.1 to 3.2 days."
            ),
        },
    ]
}

RECEIPT_DEFAULT: dict[str, Any] = {
    "text": (
        "BLUE BOTTLE COFFEE\nReceipt 2026-07-20\n\nLatte 5.25\nCroissant 4.50\n"
        "--------------------\nTOTAL USD 9.75"
    ),
    "description": (
        "A printed till receipt from Blue Bottle Coffee dated 2026-07-20: a latte (5.25) "
        "and a croissant (4.50), total USD 9.75. Black text on a white background."
    ),
}

MEETING_DEFAULT: dict[str, Any] = {
    "segments": [
        {
            "start": 0.0,
            "end": 1.9,
            "speaker": "Speaker 1",
            "text": "Welcome to the quarterly review.",
        },
        {
            "start": 2.3,
            "end": 6.0,
            "speaker": "Speaker 1",
            "text": "Revenue grew 12% to $4.2 million.",
        },
        {
            "start": 6.4,
            "end": 9.0,
            "speaker": "Speaker 1",
            "text": "The new warehouse in Denver opens in March.",
        },
        {
            "start": 9.5,
            "end": 14.0,
            "speaker": "Speaker 1",
            "text": "Next, the support team will walk us through their plans for the next quarter.",
        },
    ]
}

_PATTERN = (
    "A test pattern: vertical colour bars inside a white circle, a rainbow strip moving "
    "along the bottom and a seconds counter on the right"
)
DEMO_DEFAULT: dict[str, Any] = {
    "segments": [
        {
            "start": 0.0,
            "end": 1.9,
            "text": "Welcome to the quarterly review.",
            "description": f"{_PATTERN}, showing 0 then 1.",
        },
        {
            "start": 2.3,
            "end": 6.0,
            "text": "Revenue grew 12% to $4.2 million.",
            "description": "The same test pattern; the counter goes from 2 to 5.",
        },
        {
            "start": 6.4,
            "end": 8.0,
            "text": "The new warehouse in Denver...",
            "description": (
                "The test pattern continues, the counter at 6 and 7; the video ends mid-sentence."
            ),
        },
    ]
}

DEFAULT_RESPONSES: dict[Path, dict[str, Any]] = {
    REPORT_PDF: REPORT_DEFAULT,
    RECEIPT_PNG: RECEIPT_DEFAULT,
    MEETING_MP3: MEETING_DEFAULT,
    DEMO_MP4: DEMO_DEFAULT,
}


def usage(element_type: str, elements: int, credits: float, seconds: int) -> dict[str, Any]:
    return {
        "elements_processed": elements,
        "element_type": element_type,
        "credits_used": credits,
        "steps": 2,
        "message": None,
        "duration_seconds": seconds,
    }


USAGE: dict[Path, dict[str, Any]] = {
    REPORT_PDF: usage("page", 2, 4, 14),
    RECEIPT_PNG: usage("image", 1, 1, 6),
    MEETING_MP3: usage("audio", 1, 3, 19),
    DEMO_MP4: usage("video", 1, 5, 41),
}
#: Polls until completed: recordings take longer than pages.
STATUSES: dict[Path, tuple[str, ...]] = {
    REPORT_PDF: ("running", "completed"),
    RECEIPT_PNG: ("completed",),
    MEETING_MP3: ("running", "running", "completed"),
    DEMO_MP4: ("running", "running", "running", "completed"),
}


def load_one(path: Path, execution_id: str) -> list[dict[str, Any]]:
    """What ``VLMRunLoader(path)`` sends for one small local file: a direct upload, the
    execution with the medium's default, then polls until it completes."""
    return [
        upload(file_id=FILE_IDS[path], filename=path.name, size=path.stat().st_size),
        *execute_and_poll(
            execution_id,
            name=None,
            response=DEFAULT_RESPONSES[path],
            statuses=STATUSES[path],
            usage=USAGE[path],
        ),
    ]


#: Each per-medium example and the file it loads.
EXAMPLE_CASSETTES = {
    "document_example": REPORT_PDF,
    "image_example": RECEIPT_PNG,
    "audio_example": MEETING_MP3,
    "video_example": DEMO_MP4,
}


def main() -> None:
    for name, path in EXAMPLE_CASSETTES.items():
        write(name, load_one(path, EXECUTIONS[path]), module=MODULE)
    write(
        "loader_every_medium",
        [interaction for path, ex in EXECUTIONS.items() for interaction in load_one(path, ex)],
        module=MODULE,
    )
    write(
        "rag_example",
        [interaction for path, ex in RAG_EXECUTIONS.items() for interaction in load_one(path, ex)],
        module=MODULE,
    )


if __name__ == "__main__":
    main()
