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
        package = module.partition(".")[0]  # 'starlette', not 'starlette.applications'
        raise ImportError(
            f"This feature needs the '{package}' package: pip install 'langchain-vlmrun[{extra}]'"
        ) from exc
