"""lightsage.training.hosts.cluster: the host list, row shares, LightGBM's machine list, and the all-gather
over real sockets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from threading import Thread

import numpy as np
import pytest

from lightsage.contract.paths import ResourceConfig
from lightsage.training.hosts.cluster import (
    ERROR,
    HEADER,
    HELLO,
    Cluster,
    ClusterError,
    Exchange,
    Hosts,
    error_frame,
    lightgbm_parameters,
    pack_parts,
    share,
    unpack_parts,
)

from clustersupport import loopback_hosts, on_hosts
from testsupport import free_port


def test_hosts_come_from_the_resource_config_and_the_first_leads() -> None:
    hosts = Hosts.from_resources(ResourceConfig("algo-2", ("algo-1", "algo-2", "algo-3")))
    assert (hosts.count, hosts.rank, hosts.leader, hosts.first) == (3, 1, "algo-1", False)
    assert hosts.others == ("algo-1", "algo-3")
    assert Hosts.from_resources(ResourceConfig("algo-1", ("algo-1",))).first


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (ResourceConfig("algo-3", ("algo-1", "algo-2")), "current_host 'algo-3' is not one of the hosts"),
        (ResourceConfig("algo-1", ("algo-1", "algo-1")), "lists a host more than once"),
    ],
)
def test_a_broken_host_list_is_refused(resources: ResourceConfig, expected: str) -> None:
    with pytest.raises(ClusterError, match=expected):
        Hosts.from_resources(resources)


def test_shares_deal_every_row_to_exactly_one_host() -> None:
    positions = np.flatnonzero(np.arange(20) % 7 != 0)
    shares = [share(positions, rank, 3) for rank in range(3)]
    assert sorted(np.concatenate(shares).tolist()) == positions.tolist()
    assert max(len(part) for part in shares) - min(len(part) for part in shares) <= 1
    assert shares[1].tolist() == positions[1::3].tolist()


def test_lightgbm_learns_data_parallel_over_the_hosts_in_order() -> None:
    hosts = Hosts(("algo-1", "algo-2"), "algo-2")
    params = lightgbm_parameters(hosts, {"algo-2": "10.0.0.2", "algo-1": "10.0.0.1"}, 12400, 61)
    assert params == {
        "tree_learner": "data",
        "num_machines": 2,
        "machines": "10.0.0.1:12400,10.0.0.2:12400",
        "local_listen_port": 12400,
        "time_out": 2,
        "pre_partition": True,
    }
    assert lightgbm_parameters(hosts, {"algo-1": "a", "algo-2": "b"}, 12400, 10)["time_out"] == 1


@pytest.mark.parametrize("parts", [[], [b""], [b"a", b"", b"xyz" * 1000]])
def test_parts_pack_and_unpack(parts: list[bytes]) -> None:
    assert unpack_parts(pack_parts(parts)) == parts


def test_one_host_needs_no_network() -> None:
    cluster = Cluster()
    cluster.join(ResourceConfig("algo-1", ("algo-1",)), 12400, 10)
    assert (cluster.count, cluster.first, cluster.exchange) == (1, True, None)
    assert cluster.all_gather("anything", b"x") == [b"x"]
    assert cluster.lightgbm_parameters() == {}


def test_joined_hosts_agree_on_addresses_and_gather_in_host_order() -> None:
    def work(cluster: Cluster) -> tuple[list[bytes], list[bytes], dict[str, str]]:
        first = cluster.all_gather("first", cluster.hosts.current.encode())
        second = cluster.all_gather("second", bytes(cluster.hosts.rank) * 1_000_000)
        return first, second, cluster.lightgbm_parameters()

    results = on_hosts(3, work)
    names = loopback_hosts(3)
    for name in names:
        first, second, params = results[name]
        assert first == [host.encode() for host in names]
        assert [len(part) for part in second] == [0, 1_000_000, 2_000_000]
        assert params["machines"].split(",")[1].startswith("127.0.0.2:")


def test_a_failing_host_fails_every_host_with_its_reason() -> None:
    def work(cluster: Cluster) -> list[bytes]:
        if cluster.hosts.current == "127.0.0.3":
            raise RuntimeError("disk full")
        return cluster.all_gather("recipe summaries", b"part")

    results = on_hosts(3, work)
    assert str(results["127.0.0.3"]) == "disk full"
    for name in ("127.0.0.1", "127.0.0.2"):
        assert isinstance(results[name], ClusterError)
        assert str(results[name]) == "host '127.0.0.3' failed: disk full"


def test_a_host_that_never_comes_up_fails_the_others_in_time_naming_it() -> None:
    started = time.monotonic()
    results = on_hosts(3, lambda cluster: "joined", timeout=2, skip=("127.0.0.3",))
    assert time.monotonic() - started < 10
    assert "127.0.0.3" in str(results["127.0.0.1"])
    assert "did not connect to the first host" in str(results["127.0.0.1"])
    # The second host learns why from the first.
    assert "host '127.0.0.1' failed: host(s) 127.0.0.3 did not connect" in str(results["127.0.0.2"])


def test_a_missing_first_host_fails_the_others_naming_it() -> None:
    started = time.monotonic()
    results = on_hosts(2, lambda cluster: "joined", timeout=2, skip=("127.0.0.1",))
    assert time.monotonic() - started < 10
    assert "could not connect to the first host '127.0.0.1'" in str(results["127.0.0.2"])


def test_a_host_that_goes_silent_mid_gather_fails_the_gather_in_time() -> None:
    def work(cluster: Cluster) -> list[bytes] | str:
        if cluster.hosts.current == "127.0.0.2":
            time.sleep(4)  # alive, connected, but never answers within the time-out
            return "slept"
        return cluster.all_gather("validation rows", b"part")

    started = time.monotonic()
    results = on_hosts(2, work, timeout=1.5)
    assert time.monotonic() - started < 10
    assert "host '127.0.0.2' sent nothing for validation rows within the network_timeout_seconds" in str(
        results["127.0.0.1"]
    )


def leader_in_thread(port: int, work: Callable[[Exchange], object] | None = None) -> tuple[Thread, dict]:
    """The first of two loopback hosts opening the exchange (then doing `work`) in a thread; its outcome."""
    hosts = loopback_hosts(2)
    outcome: dict[str, object] = {}

    def lead() -> None:
        try:
            exchange = Exchange.open(Hosts(hosts, hosts[0]), "127.0.0.1", port, 5)
            outcome["result"] = work(exchange) if work is not None else exchange
        except ClusterError as error:
            outcome["result"] = error

    thread = threading.Thread(target=lead, daemon=True)
    thread.start()
    return thread, outcome


def test_a_host_whose_connection_closes_is_named() -> None:
    port = free_port()
    thread, leader = leader_in_thread(port, lambda exchange: exchange.all_gather("bin sample", b"x"))
    hosts = loopback_hosts(2)
    worker = Exchange.open(Hosts(hosts, hosts[1]), "127.0.0.1", port, 5)
    worker.close()  # as a crashed host's kernel does
    thread.join(10)
    assert "host '127.0.0.2' closed its connection during bin sample: it stopped or crashed" in str(
        leader["result"]
    )


def test_strangers_on_the_port_are_ignored_and_a_foreign_host_list_is_refused() -> None:
    port = free_port()
    thread, leader = leader_in_thread(port)
    hosts = loopback_hosts(2)
    time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", port)) as stranger:
        stranger.sendall(b"GET / HTTP/1.1\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port)) as other_job:
        hello = json.dumps({"host": hosts[1], "hosts": [hosts[1], "algo-9"]}).encode()
        other_job.sendall(HELLO + len(hello).to_bytes(8, "big") + hello)
        thread.join(10)
    refused = str(leader["result"])
    assert "host '127.0.0.2' lists other hosts (127.0.0.2, algo-9) than the first host" in refused


def test_a_reason_sent_before_the_connection_closed_is_still_read() -> None:
    """The first host passed a failure on and closed while this host was still sending its part."""
    hosts = loopback_hosts(2)
    with socket.create_server(("127.0.0.1", 0)) as server:
        sock = socket.create_connection(server.getsockname())
        first_host, _ = server.accept()
        frame = error_frame(hosts[0], "disk full")
        first_host.sendall(HEADER.pack(ERROR, len(frame)) + frame)
        first_host.close()
        time.sleep(0.2)
        exchange = Exchange(Hosts(hosts, hosts[1]), {hosts[0]: sock}, 5)
        with pytest.raises(ClusterError, match=r"^host '127.0.0.1' failed: disk full$"):
            exchange.all_gather("recipe summaries", b"x" * 50_000_000)
        exchange.close()
