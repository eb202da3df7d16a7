"""A conversation with VLM Run's Orion model about an image and a recording.

    python examples/chat_multimodal.py                     # offline: replays a cassette
    VLMRUN_API_KEY=... python examples/chat_multimodal.py  # live

``ChatVLMRun`` is a LangChain chat model (``pip install 'langchain-vlmrun[chat]'``).
Files go in LangChain's standard content blocks; a block with a local ``path`` is
uploaded once through VLM Run's files API and sent by file id (never inlined), so the
second turn, which repeats the history, uploads nothing.
"""

from __future__ import annotations

from pathlib import Path

from _offline import live_or_cassette
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from langchain_vlmrun.chat import ChatVLMRun

DATA = Path(__file__).resolve().parent / "data"


def main() -> list[BaseMessage]:
    with live_or_cassette("chat_multimodal_example") as settings:
        given = {k: settings[k] for k in ("api_key", "base_url") if k in settings}
        chat = ChatVLMRun(**given)
        history: list[BaseMessage] = [
            HumanMessage(
                content=[
                    {
                        "type": "text",
                        "text": "What does the receipt show, and what was said in the meeting?",
                    },
                    {"type": "image", "path": str(DATA / "receipt.png")},
                    {"type": "audio", "path": str(DATA / "meeting.mp3")},
                ]
            )
        ]
        for follow_up in (None, "Which of the two belongs in my expense report?"):
            if follow_up:
                history.append(HumanMessage(follow_up))
            answer = chat.invoke(history)
            history.append(answer)
            print(f"\n> {history[-2].text or '(files and question)'}")
            print(answer.text)
            meta = answer.response_metadata
            print(
                f"[session {meta.get('session_id')}, credits {meta.get('credits_used')}, "
                f"tokens {(answer.usage_metadata or {}).get('total_tokens')}]"
            )
        chat.close()
    assert isinstance(history[-1], AIMessage)
    return history


if __name__ == "__main__":
    main()
