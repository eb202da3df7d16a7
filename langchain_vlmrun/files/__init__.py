"""Local files and URLs before they are sent: opened once (``_sources``), typed by
their bytes (``_types``), and, when an LLM chose them, confined to the developer's
folders (``_confinement``). Depends only on :mod:`langchain_vlmrun.core`."""
