"""Where xaiwidgets keeps trained demo models and downloads: the user's cache directory."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """The cache directory, created on first use.

    ``$XAIWIDGETS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/xaiwidgets``, else
    ``~/.cache/xaiwidgets``. Never inside site-packages.

    Examples
    --------
    >>> cache_dir().name
    'xaiwidgets'
    """
    override = os.environ.get("XAIWIDGETS_CACHE_DIR")
    if override:
        path = Path(override).expanduser() / "xaiwidgets"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base).expanduser() / "xaiwidgets"
    path.mkdir(parents=True, exist_ok=True)
    return path
