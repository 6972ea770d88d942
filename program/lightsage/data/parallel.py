"""Batch work on a few threads, with the results in the batches' order.

A pass over a channel reads the next batch on a thread of its own; the batch work it gives `in_order` (Arrow
compute and numpy, which release the GIL) runs on other threads meanwhile, and whatever must see the
batches in order (counting, the first cells to name, a running summary) takes the results as they come.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(function: Callable[[Item], Result], items: Iterable[Item], workers: int) -> Iterator[Result]:
    """`function` of each item, in the items' order, on up to `workers` threads with as many items in flight.

    The first item runs alone: a recipe may build its lookups on first use.
    """
    iterator = iter(items)
    for first in iterator:
        yield function(first)
        break
    if workers <= 1:
        yield from map(function, iterator)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="batches") as pool:
        pending: deque[Future[Result]] = deque()
        for item in iterator:
            pending.append(pool.submit(function, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
