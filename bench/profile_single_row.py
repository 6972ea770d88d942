"""Where a single-row /invocations request spends its time inside the Flask app (no nginx, no gunicorn).

    python bench/profile_single_row.py --model-dir MODEL_DIR [--requests 5000] [--cprofile]

Inside the image, with the exact runtime libraries (MODEL_DIR holding model.joblib and input_schema.json):

    docker run --rm --network none -v MODEL_DIR:/opt/ml/model:ro -v "$PWD/bench:/bench:ro" IMAGE \\
        python /bench/profile_single_row.py --model-dir /opt/ml/model

Calls the WSGI app directly, as gunicorn does, with the garbage collector on (as in a worker), and times each
stage by wrapping the functions the app calls. Figures are wall time of one thread: use a quiet machine.
`--cprofile` adds the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY_ROOT / "program"))

import byoc.api  # noqa: E402
import byoc.model  # noqa: E402
from byoc.settings import ServingSettings  # noqa: E402

# The first passenger of local_test/test_dir/input/data/validation, header-less, training column order.
DEFAULT_ROW = '566,3,"Davies, Mr. Alfred J",male,24,2,0,A/4 48871,24.15,,S\n'
HEADERS = {"CONTENT_TYPE": "text/csv", "HTTP_ACCEPT": "application/json"}
WARM_UP = 200

stage_seconds: defaultdict[str, float] = defaultdict(float)


def timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*arguments: Any, **keywords: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*arguments, **keywords)
        finally:
            stage_seconds[stage] += time.perf_counter() - started

    return wrapper


def timed_probabilities(pipeline: Any, columns: Any) -> Any:
    """byoc.model.positive_probabilities, with its two steps timed apart."""
    features = timed("features.transform", pipeline.named_steps["features"].transform)(columns)
    booster = pipeline.named_steps["model"].booster_
    return timed("booster.predict", booster.predict)(features, num_threads=1)


@contextmanager
def stages_timed() -> Iterator[None]:
    originals = (byoc.api._response_type, byoc.api.decode, byoc.api.encode, byoc.model.positive_probabilities)
    byoc.api._response_type = timed("Accept negotiation", byoc.api._response_type)
    byoc.api.decode = timed("decode CSV", byoc.api.decode)
    byoc.api.encode = timed("encode JSON", byoc.api.encode)
    byoc.model.positive_probabilities = timed_probabilities
    try:
        yield
    finally:
        (byoc.api._response_type, byoc.api.decode, byoc.api.encode, byoc.model.positive_probabilities) = (
            originals
        )


def environ(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.0",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }


def make_caller(app: Any, method: str, path: str, body: bytes, headers: dict[str, str]) -> Callable[[], None]:
    statuses: list[str] = []

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def call() -> None:
        statuses.clear()
        result = app.wsgi_app(environ(method, path, body, headers), start_response)
        b"".join(result)
        getattr(result, "close", lambda: None)()
        if not statuses[0].startswith("200"):
            raise RuntimeError(f"{method} {path} answered {statuses[0]}")

    return call


def microseconds_per_call(call: Callable[[], None], requests: int) -> float:
    for _ in range(WARM_UP):
        call()
    stage_seconds.clear()
    started = time.perf_counter()
    for _ in range(requests):
        call()
    return (time.perf_counter() - started) / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--row", default=DEFAULT_ROW, help="one header-less CSV row")
    parser.add_argument("--cprofile", action="store_true", help="also print the top functions by own time")
    arguments = parser.parse_args()

    app = byoc.api.create_app(arguments.model_dir, ServingSettings.from_environment({}))
    post = make_caller(app, "POST", "/invocations", arguments.row.encode(), HEADERS)
    ping = make_caller(app, "GET", "/ping", b"", {})
    ping_us = microseconds_per_call(ping, arguments.requests)
    post_us = microseconds_per_call(post, arguments.requests)
    with stages_timed():
        timed_us = microseconds_per_call(post, arguments.requests)
        per_request = {stage: seconds / arguments.requests * 1e6 for stage, seconds in stage_seconds.items()}
    per_request["Flask/Werkzeug request handling, GC (rest)"] = timed_us - sum(per_request.values())

    print(f"Python {sys.version.split()[0]}, {arguments.requests} requests; µs of wall time per request")
    print(f"GET /ping: {ping_us:.1f} µs; POST /invocations (one CSV row): {post_us:.1f} µs\n")
    print("| stage of POST /invocations | µs/request | share |")
    print("|---|---|---|")
    for stage, micros in sorted(per_request.items(), key=lambda item: -item[1]):
        print(f"| {stage} | {micros:.1f} | {micros / timed_us:.0%} |")
    if arguments.cprofile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [post() for _ in range(arguments.requests)])
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
