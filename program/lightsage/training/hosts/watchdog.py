"""The watchdog of a multi-host training: a host that stops fails the job with its name, never hangs it.

LightGBM's collective cannot tell that a peer is gone: a host waiting on a dead peer spins or blocks in a
socket call until LightGBM's time-out (whole minutes), or for ever when the connection merely closed. So while
lightgbm.train runs, a thread watches
- the exchange connections (idle while LightGBM trains): a closed one means that host died, an error frame
  that it failed (with its reason), a data frame that it finished training and waits for the others;
- progress: each finished round (this object is also a lightgbm.train callback); none for
  network_timeout_seconds means some host stopped answering;
- SIGTERM (a stop or spot interruption): the main thread ends the job at the end of the round, unless the
  round never ends because LightGBM waits on a host that is gone (local mode stops the hosts one by one).
Then it interrupts the main thread, which raises ClusterError with the reason at the end of the round, so the
usual failure path runs (failure file, peers told, checkpoint written). When the main thread is stuck inside
LightGBM and does not get there within GRACE_SECONDS, the watchdog writes the failure file itself, tells the
other hosts, and ends the process.
"""

from __future__ import annotations

import _thread
import logging
import os
import select
import signal
import socket
import threading
import time
from types import FrameType, TracebackType

import lightgbm as lgb

from lightsage.contract.paths import MLPaths, write_failure_reason
from lightsage.training.hosts.cluster import DATA, ERROR, HEADER, Cluster, ClusterError, receive

logger = logging.getLogger(__name__)

GRACE_SECONDS = 5.0
POLL_SECONDS = 0.5
FRAME_SECONDS = 5.0
INTERRUPT = signal.SIGUSR1
STOPPED_WHILE_WAITING = (
    "training was stopped by SIGTERM (StopTrainingJob or a spot interruption) while LightGBM waited for "
    "another host; no model was saved"
)


class Watchdog:
    """`with Watchdog(...) as dog:` around lightgbm.train, with `dog` among its callbacks."""

    order = 5
    before_iteration = False

    def __init__(self, cluster: Cluster, timeout: float, paths: MLPaths) -> None:
        self.cluster = cluster
        self.timeout = timeout
        self.paths = paths
        self.progress_at = time.monotonic()
        self.error: ClusterError | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._previous_handler: signal.Handlers | None = None
        # Signals arrive here as bytes even while the main thread is inside LightGBM (signal.set_wakeup_fd).
        self._signals_read, self._signals_write = os.pipe()
        self._previous_wakeup = -1
        self._stop_requested_at: float | None = None

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        self.progress_at = time.monotonic()

    def __enter__(self) -> Watchdog:
        self._previous_handler = signal.signal(INTERRUPT, self._interrupted)  # type: ignore[assignment]
        os.set_blocking(self._signals_read, False)
        os.set_blocking(self._signals_write, False)
        self._previous_wakeup = signal.set_wakeup_fd(self._signals_write, warn_on_full_buffer=False)
        self.progress_at = time.monotonic()
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop()
        signal.set_wakeup_fd(self._previous_wakeup)
        signal.signal(INTERRUPT, self._previous_handler or signal.SIG_DFL)
        os.close(self._signals_read)
        os.close(self._signals_write)

    def _stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def explain(self, error: lgb.basic.LightGBMError) -> Exception:
        """LightGBM failed talking to the hosts ("Socket recv error"): which host, when the exchange knows."""
        self._stop()
        if "socket" not in str(error).lower():
            return error
        news = self.error
        watched = dict(self.cluster.exchange.connections) if self.cluster.exchange is not None else {}
        deadline = time.monotonic() + FRAME_SECONDS
        while news is None and time.monotonic() < deadline:
            news = self._news(watched)
            time.sleep(0.1)
        if news is None:
            return ClusterError(f"LightGBM lost its connection to another host: {error}")
        return ClusterError(f"{news} (LightGBM: {error})", news.origin, news.peer_reason)

    def _interrupted(self, signum: int, frame: FrameType | None) -> None:
        if self.error is not None:
            raise self.error

    def _watch(self) -> None:
        watched = dict(self.cluster.exchange.connections) if self.cluster.exchange is not None else {}
        while not self._stopped.wait(POLL_SECONDS):
            if self._stop_requested_at is None and self._received(signal.SIGTERM):
                self._stop_requested_at = time.monotonic()
            if self._stop_requested_at is not None:
                # The main thread stops the job at the end of the round; not when LightGBM waits on a host.
                if time.monotonic() - self._stop_requested_at > GRACE_SECONDS:
                    self._give_up(ClusterError(STOPPED_WHILE_WAITING))
                continue
            error = self._news(watched) or self._stall()
            if error is not None:
                self._trip(error)
                return

    def _received(self, signum: int) -> bool:
        try:
            return signum in os.read(self._signals_read, 512)
        except BlockingIOError:
            return False

    def _news(self, watched: dict[str, socket.socket]) -> ClusterError | None:
        """What the other hosts' connections say: nothing, or that one failed or left."""
        if not watched:
            return None
        names = {sock: name for name, sock in watched.items()}
        readable, _, _ = select.select(list(names), [], [], 0)
        for sock in readable:
            name = names[sock]
            try:
                sock.settimeout(FRAME_SECONDS)
                head = sock.recv(HEADER.size, socket.MSG_PEEK)
            except OSError as error:
                return ClusterError(
                    f"lost the connection to host '{name}' during training: {error}", origin=name
                )
            if head == b"":
                return ClusterError(
                    f"host '{name}' left the job during training: it stopped or crashed (see its log)",
                    origin=name,
                )
            if head[:1] == ERROR:
                try:
                    receive(sock, time.monotonic() + FRAME_SECONDS, name, "training")
                except ClusterError as error:
                    return error
            if head[:1] == DATA:
                del watched[name]  # it finished training and waits for the others: alive
        return None

    def _stall(self) -> ClusterError | None:
        waited = time.monotonic() - self.progress_at
        if waited < self.timeout:
            return None
        others = ", ".join(self.cluster.hosts.others)
        return ClusterError(
            f"no boosting round finished for {waited:.0f} s (network_timeout_seconds="
            f"{self.timeout:.0f}): a host stopped answering (the other hosts: {others})",
            origin=self.cluster.hosts.others[0] if self.cluster.count == 2 else None,
        )

    def _trip(self, error: ClusterError) -> None:
        self.error = error
        _thread.interrupt_main(INTERRUPT)
        if not self._stopped.wait(GRACE_SECONDS):
            self._give_up(error)

    def _give_up(self, error: ClusterError) -> None:
        """The main thread is stuck inside LightGBM: fail from here."""
        reason = str(error)
        logger.error(f"FAILED: {reason} (LightGBM did not return; ending the process)")
        try:
            write_failure_reason(self.paths, reason + "\n")
        except OSError as failure:
            logger.error(f"could not write {self.paths.failure_file}: {failure}")
        self.cluster.abort(reason, error)
        os._exit(1)
