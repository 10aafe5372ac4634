"""Run small numerical work on one thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["single_threaded"]


@contextmanager
def single_threaded() -> Iterator[None]:
    """Limit torch to one thread inside the block; the caller's setting is restored.

    Training a small network is thousands of tiny matrix products, which run slower
    on several threads than on one, and much slower when the cores are shared: the
    FIMAP networks train about 10x faster on one thread on two busy cores.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with single_threaded():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
