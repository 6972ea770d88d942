"""Soak test: bounded mixed traffic against `serve`, reporting failures and worker memory at start and end.

    python bench/soak.py --image IMAGE [--seconds 120] [--concurrency 16] [--output bench/results/soak.json]

Trains a model with the image, starts `serve` on 127.0.0.1, then runs `--concurrency` client threads for
`--seconds`: 3 of every 4 requests are good (one-row and 50-row CSV, JSON records) and must answer 200; the
rest are bad (malformed CSV, wrong types, bad JSON, unsupported types) and must answer a 4xx JSON error. The
resident memory (RSS) of every gunicorn worker is read from /proc inside the container after a 5 s warm-up
and at the end. Traffic goes to 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY_ROOT / "tests"))

from testsupport import Server, docker, gunicorn_worker_pids, start_server  # noqa: E402

VALIDATION_CSV = (
    REPOSITORY_ROOT / "local_test" / "test_dir" / "input" / "data" / "validation" / "validation.csv"
)


@dataclass(frozen=True)
class Probe:
    name: str
    body: bytes
    content_type: str
    good: bool


def probes() -> list[Probe]:
    lines = VALIDATION_CSV.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    record = dict(zip(header.split(","), rows[0].split(","), strict=False))
    return [
        Probe("one row", f"{header}\n{rows[0]}\n".encode(), "text/csv", True),
        Probe("50 rows", ("\n".join([header, *rows[:50]]) + "\n").encode(), "text/csv", True),
        Probe(
            "json",
            (REPOSITORY_ROOT / "local_test" / "payloads" / "passengers.json").read_bytes(),
            "application/json",
            True,
        ),
        Probe(
            "bad type",
            f"{header}\n{rows[0].replace(',male,', ',male,old,', 1)}\n".encode(),
            "text/csv",
            False,
        ),
        Probe("bad json", json.dumps(record)[:-5].encode(), "application/json", False),
        Probe("bad media type", b"<xml/>", "application/xml", False),
    ]


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client(server: Server, schedule: list[Probe], deadline: float, tally: Tally) -> None:
    for probe in itertools.cycle(schedule):
        if time.monotonic() >= deadline:
            return
        try:
            status, content_type, answer = server.request(
                "POST", "/invocations", probe.body, {"Content-Type": probe.content_type}
            )
            ok = (
                status == 200
                if probe.good
                else (400 <= status < 500 and content_type.startswith("application/json"))
            )
            problem = None if ok else f"{probe.name}: {status} {answer[:100]!r}"
        except OSError as error:
            problem = f"{probe.name}: {type(error).__name__}: {error}"
        with tally.lock:
            tally.outcomes[f"{'good' if probe.good else 'bad'} {'ok' if problem is None else 'failed'}"] += 1
            if problem is not None and len(tally.failures) < 20:
                tally.failures.append(problem)


RSS_SCRIPT = """
import sys
for pid in sys.argv[1:]:
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    print(pid, fields["VmRSS"].split()[0])
"""
WARM_UP_SECONDS = 5.0


def run_clients(
    server: Server, schedule: list[Probe], seconds: float, concurrency: int, tally: Tally
) -> Tally:
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client, args=(server, schedule[index:] + schedule[:index], deadline, tally))
        for index in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return tally


def worker_rss_kib(container: str) -> dict[str, int]:
    pids = gunicorn_worker_pids(container)
    output = docker("exec", container, "python3", "-c", RSS_SCRIPT, *pids).stdout
    return {pid: int(kib) for pid, kib in (line.split() for line in output.splitlines())}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--output", type=Path, default=REPOSITORY_ROOT / "bench" / "results" / "soak.json")
    arguments = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="byoc-soak-"))
    ml_root = scratch / "ml"
    shutil.copytree(REPOSITORY_ROOT / "local_test" / "test_dir", ml_root)
    subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{ml_root}:/opt/ml", arguments.image, "train"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = start_server(arguments.image, ml_root)
    try:
        server.wait_healthy()
        rss_start = worker_rss_kib(server.name)
        schedule = [probe for probe in probes() for _ in range(3 if probe.good else 1)]
        tally = Tally()
        deadline = time.monotonic() + arguments.seconds
        threads = [
            threading.Thread(
                target=client, args=(server, schedule[index:] + schedule[:index], deadline, tally)
            )
            for index in range(arguments.concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(arguments.seconds + 60)
        rss_end = worker_rss_kib(server.name)
        workers_replaced = set(rss_start) != set(rss_end)
    finally:
        docker("rm", "-f", server.name, check=False)
        shutil.rmtree(scratch, ignore_errors=True)

    report = {
        "seconds": arguments.seconds,
        "concurrency": arguments.concurrency,
        "outcomes": dict(tally.outcomes),
        "failures": tally.failures,
        "worker_rss_kib_start": rss_start,
        "worker_rss_kib_end": rss_end,
        "workers_replaced": workers_replaced,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")
    total = sum(tally.outcomes.values())
    print(f"soak: {total} requests in {arguments.seconds:.0f} s at concurrency {arguments.concurrency} "
          f"({total / arguments.seconds:.0f}/s)")  # fmt: skip
    for outcome, count in sorted(tally.outcomes.items()):
        print(f"  {outcome}: {count}")
    for pid, start in rss_start.items():
        end = rss_end.get(pid)
        ending = f"{end / 1024:.1f} MiB at end" if end is not None else "replaced before the end"
        print(f"  worker {pid} RSS: {start / 1024:.1f} MiB after a {WARM_UP_SECONDS:.0f} s warm-up, {ending}")
    failed = tally.outcomes["good failed"] + tally.outcomes["bad failed"]
    print(f"  verdict: {'PASS' if failed == 0 and not workers_replaced else 'FAIL'} "
          "(zero failed good requests, every bad request a 4xx JSON error, no worker replaced)")  # fmt: skip
    return 0 if failed == 0 and not workers_replaced else 1


if __name__ == "__main__":
    sys.exit(main())
