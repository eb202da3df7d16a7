"""``ChatVLMRun``: VLM Run's chat API (Orion models) as a LangChain chat model.

Needs the ``chat`` extra: ``pip install 'langchain-vlmrun[chat]'`` (langchain-openai).
"""

from langchain_vlmrun.core._optional import require

require("langchain_openai", "chat")

from langchain_vlmrun.chat.chat_model import (  # noqa: E402
    DEFAULT_MODEL,
    ChatVLMRun,
    vlmrun_response_format,
)

__all__ = ["DEFAULT_MODEL", "ChatVLMRun", "vlmrun_response_format"]
