"""Optional dependencies: imported when a feature needs them, named by their extra."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["require"]


def require(module: str, extra: str) -> Any:
    """Import ``module``, or raise an ImportError saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"This feature needs the '{module}' package: pip install 'langchain-vlmrun[{extra}]'"
        ) from exc
