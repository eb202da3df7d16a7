"""VLM Run for RAG ingestion: :class:`VLMRunLoader` (paths, folders, globs, URLs,
bytes) and :class:`VLMRunParser` (a ``BaseBlobParser``)."""

from langchain_vlmrun.loaders.loader import VLMRunLoader
from langchain_vlmrun.loaders.parser import VLMRunParser

__all__ = ["VLMRunLoader", "VLMRunParser"]
