"""Hosts as threads on loopback addresses (127.0.0.1, 127.0.0.2, ...), joined over real sockets.

Numeric host names resolve without DNS, so these tests send nothing beyond this machine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from lightsage.contract.paths import ResourceConfig
from lightsage.training.hosts.cluster import EXCHANGE_PORT_OFFSET, Cluster

from testsupport import free_port

JOIN_SECONDS = 20


def loopback_hosts(count: int) -> tuple[str, ...]:
    return tuple(f"127.0.0.{index}" for index in range(1, count + 1))


def on_hosts(
    count: int, work: Callable[[Cluster], Any], timeout: float = 10, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Run `work` on `count` joined hosts (threads); each host's result, or the exception it raised.

    As `train` does, a host whose work raises tells the others why (Cluster.abort). Hosts in `skip` never
    start, as if their instance never came up.
    """
    names = loopback_hosts(count)
    port = free_port() - EXCHANGE_PORT_OFFSET
    results: dict[str, Any] = {}

    def run(name: str) -> None:
        cluster = Cluster()
        try:
            cluster.join(ResourceConfig(name, names), port, timeout)
            results[name] = work(cluster)
        except Exception as error:
            cluster.abort(str(error), error)
            results[name] = error
        finally:
            cluster.close()

    threads = [threading.Thread(target=run, args=(name,), daemon=True) for name in names if name not in skip]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS + 3 * timeout)
        assert not thread.is_alive(), "a host thread hung"
    return results
