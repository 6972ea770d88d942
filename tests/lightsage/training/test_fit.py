"""lightsage.training.fit: how many threads a fit uses."""

from lightsage.training.fit import thread_count


def test_threads_grow_with_the_data_and_never_pass_the_cpus() -> None:
    assert thread_count(712, 10, 2) == 1
    assert thread_count(10_000_000, 10, 2) == 2
    assert thread_count(10_000_000, 10, 1) == 1
