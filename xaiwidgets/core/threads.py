"""Torch's intra-op thread count, limited for the duration of a computation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .validation import check_int

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int | None = 1) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads inside the block; restore the count after.

    The small models of a course run fastest on one thread: their operations are too
    small to split, and when the cores are shared the threads of one operation wait for
    each other. Measured on 2 busy cores: a full sanity check of the digits CNN took
    0.27 s on one thread and 3-12 s on two, and training it on random labels 7 s
    against 122 s.

    Parameters
    ----------
    n : int or None, default=1
        Threads inside the block; ``None`` leaves torch's setting alone.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n is None:
        yield
        return
    n = check_int(n, "threads", low=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
