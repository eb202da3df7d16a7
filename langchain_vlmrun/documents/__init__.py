"""From a completed execution to LangChain ``Document``s: what to run per source
(``AgentSpec``, with the built-in prompts and schemas per medium in :mod:`.builtin`),
rendering, stable Document ids, structured-output validation, and the run events
callback handlers see. Depends on the client, files and core layers."""

from langchain_vlmrun.documents._documents import split_documents

__all__ = ["split_documents"]
