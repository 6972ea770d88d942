"""lightsage.training.fit: how many threads a fit uses, and boosting's histogram layout."""

import lightgbm as lgb
import numpy as np
import pytest

from lightsage.training import fit, memory
from lightsage.training.fit import thread_count
from lightsage.training.memory import GIB, Limit, MemoryGuard, resident_bytes


def test_threads_grow_with_the_data_and_never_pass_the_cpus() -> None:
    assert thread_count(712, 10, 2) == 1
    assert thread_count(10_000_000, 10, 2) == 2
    assert thread_count(10_000_000, 10, 1) == 1


def test_the_row_layout_gives_way_to_columns_when_its_copy_of_the_bins_does_not_fit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 8, size=(200_000, 5)).astype(np.float32)  # 40 bins: the row layout's kind of table
    train_set = lgb.Dataset(x, x.sum(axis=1), params={"verbose": -1}).construct()
    roomy = MemoryGuard(limit=Limit(resident_bytes() + 4 * GIB, "test"))
    assert fit._histogram_layout(train_set, 2, roomy) == {"force_row_wise": True, "force_col_wise": False}
    assert not caplog.records

    # room for what is in memory now, not for 1,000,000 more bytes (the rows' bins again)
    tight = MemoryGuard(limit=Limit(int((resident_bytes() + 500_000) / memory.WATCH_SHARE), "test"))
    with caplog.at_level("INFO"):
        assert fit._histogram_layout(train_set, 2, tight) == {"force_row_wise": False, "force_col_wise": True}
    assert (
        "histograms by columns: LightGBM's row layout, faster on this table, needs more memory" in caplog.text
    )
