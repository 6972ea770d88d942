"""lightsage.data.parallel: batch work on a few threads, the results in order."""

import threading
import time
from collections.abc import Iterator

import pytest

from lightsage.data.channels import DataError
from lightsage.data.parallel import in_order


def test_in_order_keeps_the_order_runs_the_first_alone_and_bounds_the_items_in_flight() -> None:
    lock = threading.Lock()
    running, most, read = [0], [0], []

    def slow_square(value: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01 * (value % 3))
        with lock:
            running[0] -= 1
        return value * value

    def items() -> Iterator[int]:
        for value in range(40):
            read.append(value)
            yield value

    results = in_order(slow_square, items(), workers=2)
    assert next(results) == 0 and read == [0]  # the first item alone, before any other is read
    assert list(results) == [value * value for value in range(1, 40)]
    assert most[0] == 2
    assert list(in_order(slow_square, [], workers=2)) == []
    assert list(in_order(slow_square, [3, 4], workers=1)) == [9, 16]


def test_in_order_passes_a_workers_error_on() -> None:
    def fails_on_five(value: int) -> int:
        if value == 5:
            raise DataError("batch 5 is bad")
        return value

    with pytest.raises(DataError, match="batch 5 is bad"):
        list(in_order(fails_on_five, range(10), workers=2))
