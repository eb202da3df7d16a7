"""What the chat model's tests share, written once: ChatVLMRun's capabilities as
LangChain's standard suites ask for them, and a small WAV to send."""

from __future__ import annotations

import io
import wave

from langchain_vlmrun.chat import ChatVLMRun


def wav_bytes() -> bytes:
    """A tenth of a second of silence: mono, 16-bit, 8 kHz."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    return buffer.getvalue()


class OrionCapabilities:
    """What ChatVLMRun can do, for the standard unit and integration suites alike (put
    it first among the bases). Tool calling is off: VLM Run documents no ``tools`` for
    its chat API."""

    @property
    def chat_model_class(self) -> type[ChatVLMRun]:
        return ChatVLMRun

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return True

    @property
    def supports_video_inputs(self) -> bool:
        return True
