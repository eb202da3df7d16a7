"""Compose the chat example's cassette: ``python -m tests.compose_chat_cassettes``.

``examples/chat_multimodal.py`` asks ChatVLMRun about ``examples/data/receipt.png`` and
``examples/data/meeting.mp3`` in one conversation of two turns: both files are uploaded
once (``POST /files``), then each turn is one ``POST /openai/chat/completions`` that
refers to them as ``input_file`` parts by file id. The answers say what the files
really hold (the receipt: Blue Bottle Coffee, a latte and a croissant, total USD 9.75;
the meeting: revenue up 12% to $4.2 million, a Denver warehouse opening in March).

The answer's shape (OpenAI's ``chat.completion`` plus VLM Run's top-level
``session_id`` and ``usage.credits_used``) follows VLM Run's Python SDK 0.9.2
(``cli/_cli/chat.py`` reads both); token and credit numbers are invented.
"""

from __future__ import annotations

import json
from typing import Any

from tests.cassette_kit import interaction, upload, write
from tests.compose_media_cassettes import FILE_IDS, MEETING_MP3, RECEIPT_PNG

MODULE = "tests.compose_chat_cassettes"
MODEL = "vlmrun-orion-1:auto"
SESSION_ID = "c4e1a2b3-5d6f-4a7b-8c9d-0e1f2a3b4c5d"

FIRST_ANSWER = (
    "The receipt is from Blue Bottle Coffee (2026-07-20): a latte for 5.25 and a "
    "croissant for 4.50, total USD 9.75. In the meeting, the speaker opens the quarterly "
    "review, reports that revenue grew 12% to $4.2 million, says the new Denver "
    "warehouse opens in March, and hands over to the support team for next quarter's "
    "plans."
)
SECOND_ANSWER = (
    "The receipt: it is an expense (USD 9.75 at Blue Bottle Coffee). The meeting "
    "recording has no amounts to claim."
)


def completion(number: int, content: str, prompt_tokens: int, credits: float) -> dict[str, Any]:
    completion_tokens = len(content.split())
    return {
        "id": f"chatcmpl-7f3a9c2e5b1d4e6f8a0b2c4{number}",
        "object": "chat.completion",
        "created": 1784570522 + number,
        "model": MODEL,
        "session_id": SESSION_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "credits_used": credits,
        },
    }


def docs_upload(name: str, file_id: str) -> dict[str, Any]:
    """An upload carrying its file name in the body (the docs runner matches on it)."""
    uploaded = upload(file_id=file_id, filename=name, size=RECEIPT_PNG.stat().st_size)
    uploaded["request"]["body"] = (
        f'--b\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n...'
    )
    return uploaded


def docs_page() -> None:
    """``cassettes/docs_chat_vlmrun.yaml``: the run blocks of ``docs/chat/vlmrun.md``."""
    chat = "/openai/chat/completions"
    receipt = json.dumps({"merchant": "Blue Bottle Coffee", "total": 9.75})
    write(
        "docs_chat_vlmrun",
        [
            interaction(
                "POST",
                chat,
                200,
                completion(3, "Documents, images, audio recordings and videos.", 24, 1),
            ),
            docs_upload("receipt.png", "d3f1a9b2-7c4e-4d5f-8a6b-1c2d3e4f5a6b"),
            interaction(
                "POST",
                chat,
                200,
                completion(
                    4,
                    "The total is USD 9.75 (a latte for 5.25 and a croissant for 4.50).",
                    912,
                    2,
                ),
            ),
            interaction("POST", chat, 200, completion(5, receipt, 948, 2)),
        ],
        module=MODULE,
        note="Chat answer shape: VLM Run's Python SDK 0.9.2 (cli/_cli/chat.py); see the module.",
    )


def main() -> None:
    docs_page()
    chat = "/openai/chat/completions"
    write(
        "chat_multimodal_example",
        [
            upload(
                file_id=FILE_IDS[RECEIPT_PNG],
                filename="receipt.png",
                size=RECEIPT_PNG.stat().st_size,
            ),
            upload(
                file_id=FILE_IDS[MEETING_MP3],
                filename="meeting.mp3",
                size=MEETING_MP3.stat().st_size,
            ),
            interaction("POST", chat, 200, completion(1, FIRST_ANSWER, 1874, 4)),
            interaction("POST", chat, 200, completion(2, SECOND_ANSWER, 1960, 4)),
        ],
        module=MODULE,
        note="Chat answer shape: VLM Run's Python SDK 0.9.2 (cli/_cli/chat.py); see the module.",
    )


if __name__ == "__main__":
    main()
