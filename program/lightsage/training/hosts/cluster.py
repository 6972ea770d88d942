"""Training on several hosts: who they are, where they listen, and a small all-gather between them.

SageMaker lists the hosts in /opt/ml/input/config/resourceconfig.json, the same list on every host; the first
one leads. Host names may resolve late (SageMaker's documentation says to retry), so every host resolves every
name with retries, for at most `network_timeout_seconds`, and a name that never resolves fails the job naming
that host.

The hosts talk on three TCP ports. LightGBM's own collective (data-parallel tree learning) listens on
`network_port` on every host, and a refit after early stopping on `network_port + 2` (LightGBM cannot listen
again on the port it has just closed: its connections linger in TIME_WAIT). The exchange below listens on
`network_port + 1` on the first host only: a star
in which every other host connects to the first, sends its part of an all-gather, and gets every part back.
Parts are bytes (JSON or Arrow IPC from `lightsage.training.hosts.wire`, never pickle). Every wait is bounded
by `network_timeout_seconds`. A host that fails tells the first host why before it exits, and the first host
passes the reason on, so every host fails with the first failure's reason, named by host.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import socket
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightsage.contract.paths import ResourceConfig
from lightsage.errors import PlatformError

logger = logging.getLogger(__name__)

EXCHANGE_PORT_OFFSET = 1
RETRY_SECONDS = 1.0
ABORT_SEND_SECONDS = 2.0
# A frame: its kind (hello, data or error) and its length, then its bytes.
HEADER = struct.Struct("!cQ")
HELLO, DATA, ERROR = b"H", b"D", b"E"
HELLO_SECONDS = 10.0
MAX_HELLO_BYTES = 1 << 16
_COUNT = struct.Struct("!I")
_LENGTH = struct.Struct("!Q")


class ClusterError(PlatformError):
    """A host failed, left, cannot be reached or disagrees; the message names the host.

    `origin` is the host where the failure started (a peer's own reason is passed on unchanged).
    """

    def __init__(self, message: str, origin: str | None = None, peer_reason: str | None = None) -> None:
        super().__init__(message)
        self.origin = origin
        # A peer's own failure reason, passed on as it is.
        self.peer_reason = peer_reason


@dataclass(frozen=True)
class Hosts:
    """The training hosts in SageMaker's order, and which one this is. The first host leads."""

    names: tuple[str, ...]
    current: str

    @classmethod
    def from_resources(cls, resources: ResourceConfig) -> Hosts:
        names = tuple(resources.hosts)
        if len(set(names)) != len(names):
            raise ClusterError(f"resourceconfig.json lists a host more than once: {', '.join(names)}")
        if resources.current_host not in names:
            raise ClusterError(
                f"resourceconfig.json: current_host '{resources.current_host}' is not one of the hosts "
                f"({', '.join(names)})"
            )
        return cls(names, resources.current_host)

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def rank(self) -> int:
        return self.names.index(self.current)

    @property
    def leader(self) -> str:
        return self.names[0]

    @property
    def first(self) -> bool:
        return self.current == self.leader

    @property
    def others(self) -> tuple[str, ...]:
        return tuple(name for name in self.names if name != self.current)


def resolve(host: str, deadline: float) -> str:
    """The IPv4 address of `host`, retrying until `deadline` (time.monotonic()) while DNS comes up."""
    attempts = 0
    while True:
        attempts += 1
        try:
            return socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
        except OSError as error:
            if time.monotonic() + RETRY_SECONDS > deadline:
                raise ClusterError(
                    f"host '{host}' could not be resolved after {attempts} attempts: {error} "
                    "(its instance did not come up, or network_timeout_seconds is too short)",
                    origin=host,
                ) from None
            if attempts == 1:
                logger.info(f"waiting for host name '{host}' to resolve ({error})")
            time.sleep(RETRY_SECONDS)


def share(positions: Sequence[int] | Any, rank: int, count: int) -> Any:
    """This host's share of the rows every host sees (FullyReplicated): every `count`-th, from `rank`."""
    return positions[rank::count]


REFIT_PORT_OFFSET = 2


def lightgbm_parameters(
    hosts: Hosts, addresses: Mapping[str, str], port: int, timeout: float
) -> dict[str, Any]:
    """LightGBM's data-parallel learning over the hosts; each host holds its own rows (pre-partitioned)."""
    return {
        "tree_learner": "data",
        "num_machines": hosts.count,
        "machines": ",".join(f"{addresses[name]}:{port}" for name in hosts.names),
        "local_listen_port": port,
        # LightGBM's socket time-out is in whole minutes: connection set-up and every send and receive.
        "time_out": max(1, math.ceil(timeout / 60)),
        "pre_partition": True,
    }


# -- frames -------------------------------------------------------------------------------------------------


def _send(sock: socket.socket, kind: bytes, payload: bytes) -> None:
    sock.sendall(HEADER.pack(kind, len(payload)))
    sock.sendall(payload)


def _receive_exactly(sock: socket.socket, size: int, deadline: float, peer: str, what: str) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        count = sock.recv_into(view[received:])
        if count == 0:
            raise ClusterError(
                f"host '{peer}' closed its connection during {what}: it stopped or crashed (see its log)",
                origin=peer,
            )
        received += count
    return bytes(buffer)


def receive(sock: socket.socket, deadline: float, peer: str, what: str) -> tuple[bytes, bytes]:
    """One frame (kind, payload) from `peer`; ClusterError when it closes, fails or says nothing in time."""
    try:
        kind, length = HEADER.unpack(_receive_exactly(sock, HEADER.size, deadline, peer, what))
        payload = _receive_exactly(sock, length, deadline, peer, what)
    except TimeoutError:
        raise ClusterError(
            f"host '{peer}' sent nothing for {what} within the network_timeout_seconds: it is down, "
            "unreachable or stuck",
            origin=peer,
        ) from None
    except ConnectionError as error:
        raise ClusterError(
            f"lost the connection to host '{peer}' during {what}: {error}", origin=peer
        ) from None
    if kind == ERROR:
        failure = json.loads(payload)
        raise ClusterError(
            f"host '{failure['host']}' failed: {failure['reason']}",
            origin=failure["host"],
            peer_reason=failure["reason"],
        )
    return kind, payload


def error_frame(origin: str, reason: str) -> bytes:
    return json.dumps({"host": origin, "reason": reason}).encode()


def pack_parts(parts: Sequence[bytes]) -> bytes:
    lengths = b"".join(_LENGTH.pack(len(part)) for part in parts)
    return _COUNT.pack(len(parts)) + lengths + b"".join(parts)


def unpack_parts(packed: bytes) -> list[bytes]:
    (count,) = _COUNT.unpack_from(packed)
    offset = _COUNT.size
    lengths = [_LENGTH.unpack_from(packed, offset + position * _LENGTH.size)[0] for position in range(count)]
    offset += count * _LENGTH.size
    parts = []
    for length in lengths:
        parts.append(packed[offset : offset + length])
        offset += length
    return parts


# -- the exchange -------------------------------------------------------------------------------------------


class Exchange:
    """A star of TCP connections around the first host, for all-gathers between the hosts."""

    def __init__(self, hosts: Hosts, connections: dict[str, socket.socket], timeout: float) -> None:
        self.hosts = hosts
        # The first host holds one connection per other host; every other host one to the first host.
        self.connections = connections
        self.timeout = timeout

    @classmethod
    def open(cls, hosts: Hosts, leader_address: str, port: int, timeout: float) -> Exchange:
        deadline = time.monotonic() + timeout
        if hosts.first:
            return cls(hosts, _accept_all(hosts, port, deadline, timeout), timeout)
        return cls(hosts, {hosts.leader: _connect_to_leader(hosts, leader_address, port, deadline)}, timeout)

    def all_gather(self, what: str, payload: bytes) -> list[bytes]:
        """Every host's `payload`, in host order; the same list on every host."""
        if self.hosts.first:
            deadline = time.monotonic() + self.timeout
            parts = {self.hosts.current: payload}
            for name in self.hosts.others:
                parts[name] = receive(self.connections[name], deadline, name, what)[1]
            ordered = [parts[name] for name in self.hosts.names]
            packed = pack_parts(ordered)
            for name, sock in self.connections.items():
                self._send(name, sock, DATA, packed, what)
            return ordered
        leader = self.hosts.leader
        sock = self.connections[leader]
        self._send(leader, sock, DATA, payload, what)
        # The first host may itself wait up to the time-out for a slower host, then tell everyone why.
        return unpack_parts(receive(sock, time.monotonic() + 2 * self.timeout, leader, what)[1])

    def _send(self, peer: str, sock: socket.socket, kind: bytes, payload: bytes, what: str) -> None:
        try:
            sock.settimeout(self.timeout)
            _send(sock, kind, payload)
        except OSError as error:
            said = _last_words(peer, sock, what)
            raise said or ClusterError(
                f"could not send {what} to host '{peer}': {error}", origin=peer
            ) from None

    def abort(self, origin: str, reason: str) -> None:
        """Tell the other hosts (the first host: every host; the others: the first) why the job fails."""
        frame = error_frame(origin, reason)
        for name, sock in self.connections.items():
            if name == origin:
                continue
            try:
                sock.settimeout(ABORT_SEND_SECONDS)
                _send(sock, ERROR, frame)
            except OSError:
                pass  # that host is gone already; its own log says why

    def close(self) -> None:
        for sock in self.connections.values():
            sock.close()
        self.connections = {}


def _last_words(peer: str, sock: socket.socket, what: str) -> ClusterError | None:
    """The failure a host that closed the connection sent before it did, if it sent one."""
    try:
        receive(sock, time.monotonic() + ABORT_SEND_SECONDS, peer, what)
    except ClusterError as error:
        return error if error.peer_reason is not None else None
    return None


def _accept_all(hosts: Hosts, port: int, deadline: float, timeout: float) -> dict[str, socket.socket]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    connections: dict[str, socket.socket] = {}
    try:
        listener.bind(("0.0.0.0", port))
        listener.listen(hosts.count)
        while len(connections) < hosts.count - 1:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = [name for name in hosts.others if name not in connections]
                raise ClusterError(
                    f"host(s) {', '.join(missing)} did not connect to the first host '{hosts.leader}' on "
                    f"port {port} within {timeout:.0f} s (network_timeout_seconds): they are down or cannot "
                    "reach it",
                    origin=missing[0],
                )
            listener.settimeout(remaining)
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            name = _greeted(sock, hosts, deadline)
            if name is not None:
                connections[name] = sock
    except BaseException as error:
        for sock in connections.values():  # the hosts that did connect learn why the job ends
            try:
                sock.settimeout(ABORT_SEND_SECONDS)
                _send(sock, ERROR, error_frame(hosts.leader, str(error)))
            except OSError:
                pass
            sock.close()
        raise
    finally:
        listener.close()
    return connections


def _greeted(sock: socket.socket, hosts: Hosts, deadline: float) -> str | None:
    """The name a connecting host gives, checked against the host list; None for a stranger."""
    hello_deadline = min(deadline, time.monotonic() + HELLO_SECONDS)
    try:
        head = _receive_exactly(sock, HEADER.size, hello_deadline, "a stranger", "hello")
        kind, length = HEADER.unpack(head)
        if kind != HELLO or length > MAX_HELLO_BYTES:
            raise ValueError("not a hello")
        hello = json.loads(_receive_exactly(sock, length, hello_deadline, "a stranger", "hello"))
    except (ClusterError, ValueError, TimeoutError, OSError):
        sock.close()
        return None
    name = hello.get("host")
    if name not in hosts.others or tuple(hello.get("hosts", ())) != hosts.names:
        sock.close()
        if name in hosts.others:
            raise ClusterError(
                f"host '{name}' lists other hosts ({', '.join(hello.get('hosts', ()))}) than the first host "
                f"({', '.join(hosts.names)})",
                origin=name,
            )
        return None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return str(name)


def _connect_to_leader(hosts: Hosts, address: str, port: int, deadline: float) -> socket.socket:
    hello = json.dumps({"host": hosts.current, "hosts": list(hosts.names)}).encode()
    attempts = 0
    while True:
        attempts += 1
        try:
            sock = socket.create_connection((address, port), timeout=max(0.1, deadline - time.monotonic()))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _send(sock, HELLO, hello)
            return sock
        except OSError as error:
            if time.monotonic() + RETRY_SECONDS > deadline:
                raise ClusterError(
                    f"could not connect to the first host '{hosts.leader}' ({address}:{port}) after "
                    f"{attempts} attempts: {error} (it is down, or network_timeout_seconds is too short)",
                    origin=hosts.leader,
                ) from None
            time.sleep(RETRY_SECONDS)


# -- this host among the hosts ------------------------------------------------------------------------------


class Cluster:
    """This host among the training hosts. One host needs no network; `join` connects several."""

    def __init__(self) -> None:
        self.hosts = Hosts(("algo-1",), "algo-1")
        self.exchange: Exchange | None = None
        self.addresses: dict[str, str] = {}
        self.port = 0
        self.timeout = 0.0

    @property
    def count(self) -> int:
        return self.hosts.count

    @property
    def first(self) -> bool:
        return self.hosts.first

    def join(self, resources: ResourceConfig, port: int, timeout: float) -> None:
        """Resolve every host's name and connect the exchange (no-op for one host)."""
        self.hosts = Hosts.from_resources(resources)
        self.port, self.timeout = port, float(timeout)
        if self.hosts.count == 1:
            return
        started = time.monotonic()
        deadline = started + timeout
        addresses = {name: resolve(name, deadline) for name in self.hosts.names}
        self.exchange = Exchange.open(
            self.hosts, addresses[self.hosts.leader], port + EXCHANGE_PORT_OFFSET, timeout
        )
        # LightGBM's machine list is the first host's view; a host it resolves differently could not find
        # itself in that list, so that is refused here with both addresses.
        agreed: dict[str, str] = json.loads(
            self.all_gather("host addresses", json.dumps(addresses).encode())[0]
        )
        current = self.hosts.current
        if agreed[current] != addresses[current]:
            raise ClusterError(
                f"the first host resolves '{current}' to {agreed[current]}, but '{current}' resolves "
                f"itself to {addresses[current]}",
                origin=current,
            )
        self.addresses = agreed
        logger.info(
            f"joined {self.hosts.count} hosts in {time.monotonic() - started:.1f} s: "
            + ", ".join(f"{name}={agreed[name]}" for name in self.hosts.names)
            + f"; this is host {self.hosts.rank + 1} ({current})"
        )

    def all_gather(self, what: str, payload: bytes) -> list[bytes]:
        """Every host's payload in host order (just this one's on a single host)."""
        if self.exchange is None:
            return [payload]
        return self.exchange.all_gather(what, payload)

    def lightgbm_parameters(self, refit: bool = False) -> dict[str, Any]:
        """LightGBM's network settings for boosting, or for the refit that follows it (its own port)."""
        if self.exchange is None:
            return {}
        port = self.port + REFIT_PORT_OFFSET if refit else self.port
        return lightgbm_parameters(self.hosts, self.addresses, port, self.timeout)

    def abort(self, reason: str, error: BaseException | None = None) -> None:
        """Tell the other hosts why this job fails (a peer's own reason is passed on as it is)."""
        if self.exchange is None:
            return
        if isinstance(error, ClusterError) and error.peer_reason is not None and error.origin is not None:
            self.exchange.abort(error.origin, error.peer_reason)
        else:
            self.exchange.abort(self.hosts.current, reason)

    def finish(self) -> None:
        """The other hosts end only once the first host has saved the model: SageMaker local mode stops every
        container when one ends. From then on the job has succeeded, and a stop (SIGTERM) changes nothing."""
        if self.exchange is None:
            return
        if not self.first:
            self.all_gather("the saved model", b"")
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            return
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            self.all_gather("the saved model", b"")
        except ClusterError as error:  # the model is saved: a host that leaves now fails only itself
            logger.info(f"the model is saved; {error}")

    def close(self) -> None:
        if self.exchange is not None:
            self.exchange.close()
            self.exchange = None
