"""Where an /invocations request spends its time inside the Flask app (no nginx, no gunicorn), by stage.

    python bench/profile_single_row.py --model-dir MODEL_DIR [--rows 1 10000] [--requests 5000] [--cprofile]
                                       [--output FILE]

Inside the image, with its exact libraries (MODEL_DIR holding manifest.json, model.txt, recipe_state.json):

    docker run --rm --network none -v MODEL_DIR:/opt/ml/model:ro -v "$PWD:/repo:ro" IMAGE \\
        python /repo/bench/profile_single_row.py --model-dir /opt/ml/model --rows 1 10000

Calls the WSGI app directly, as a gunicorn worker does, with the garbage collector on (as in a worker), on CSV
bodies with a header row: one validation passenger for 1 row, rows drawn from data/titanic.csv (seed 42) for
more. It times each stage by wrapping the functions the app calls: Accept negotiation, decoding
(`lightsage.serving.decode.decode`), features (`Predictor.features`: the recipe's transform),
`Booster.predict` and encoding (`Encoder.encode`); the rest is Flask/Werkzeug request handling, reading the
body and garbage collection. It also times GET /execution-parameters, the smallest Flask round trip. Figures
are wall time of one thread: use a quiet machine. `--cprofile` adds the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import common
import lightgbm as lgb

import lightsage.serving.app  # after common, which puts this checkout's program/ first on sys.path
from lightsage.serving.encode import Encoder
from lightsage.serving.predictor import Predictor
from lightsage.serving.settings import ServingSettings

HEADERS = {"CONTENT_TYPE": "text/csv", "HTTP_ACCEPT": "application/json"}
WARM_UP = 20
ROWS_PER_SIZE_BUDGET = 200_000  # a size of N rows gets at most this many rows in total, at least 5 requests

stage_seconds: defaultdict[str, float] = defaultdict(float)


def timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*arguments: Any, **keywords: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*arguments, **keywords)
        finally:
            stage_seconds[stage] += time.perf_counter() - started

    return wrapper


STAGES = (
    (lightsage.serving.app, "answer_format", "Accept negotiation"),
    (lightsage.serving.app, "decode", "decode CSV (lightsage.serving.decode.decode)"),
    (Predictor, "features", "features (recipe transform)"),
    (lgb.Booster, "predict", "booster.predict"),
    (Encoder, "encode", "encode JSON"),
)


@contextmanager
def stages_timed() -> Iterator[None]:
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in STAGES]
    for (owner, name, stage), (_, _, original) in zip(STAGES, originals, strict=True):
        setattr(owner, name, timed(stage, original))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


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
    for _ in range(min(WARM_UP, requests)):
        call()
    stage_seconds.clear()
    started = time.perf_counter()
    for _ in range(requests):
        call()
    return (time.perf_counter() - started) / requests * 1e6


def profile_size(app: Any, rows: int, requests: int, cprofile: bool) -> dict[str, Any]:
    body = common.single_row_csv() if rows == 1 else common.sampled_csv(rows)
    post = make_caller(app, "POST", "/invocations", body, HEADERS)
    untimed_us = microseconds_per_call(post, requests)
    with stages_timed():
        timed_us = microseconds_per_call(post, requests)
        stages = {stage: seconds / requests * 1e6 for stage, seconds in stage_seconds.items()}
    stages["Flask/Werkzeug, body, GC (rest)"] = timed_us - sum(stages.values())
    if cprofile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [post() for _ in range(requests)])
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)
    return {
        "rows": rows,
        "body_bytes": len(body),
        "requests": requests,
        "microseconds_per_request": untimed_us,
        "microseconds_per_request_with_timers": timed_us,
        "rows_per_second": rows / (untimed_us / 1e6),
        "stages_microseconds": stages,
    }


def render(size: dict[str, Any]) -> str:
    total = size["microseconds_per_request_with_timers"]
    per_row = size["rows"] > 1
    header = ["stage of POST /invocations", "µs/request", *(["µs/row"] if per_row else []), "share"]
    rows = [
        [
            stage,
            f"{micros:,.1f}",
            *([f"{micros / size['rows']:.2f}"] if per_row else []),
            f"{micros / total:.0%}",
        ]
        for stage, micros in sorted(size["stages_microseconds"].items(), key=lambda item: -item[1])
    ]
    return common.markdown_table(header, rows)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--rows", type=int, nargs="+", default=[1], help="request sizes (default 1)")
    parser.add_argument("--requests", type=int, default=5000, help="requests for 1 row (fewer for batches)")
    parser.add_argument("--cprofile", action="store_true", help="also print the top functions by own time")
    parser.add_argument("--output", type=Path, help="also write the figures as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    app = lightsage.serving.app.create_app(arguments.model_dir, ServingSettings.from_environment({}))
    flask_us = microseconds_per_call(
        make_caller(app, "GET", "/execution-parameters", b"", {}), arguments.requests
    )
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "execution_parameters_microseconds": flask_us,
        "sizes": [],
    }
    print(f"Python {results['python']}; µs of wall time per request, one thread")
    print(f"GET /execution-parameters (Flask round trip): {flask_us:.1f} µs\n")
    for rows in arguments.rows:
        requests = max(5, min(arguments.requests, ROWS_PER_SIZE_BUDGET // rows))
        size = profile_size(app, rows, requests, arguments.cprofile)
        results["sizes"].append(size)
        print(
            f"POST /invocations, {rows:,} row(s), {size['body_bytes']:,}-byte CSV body, "
            f"{requests:,} requests: {size['microseconds_per_request']:,.1f} µs/request "
            f"({size['rows_per_second']:,.0f} rows/s)"
        )
        print(render(size) + "\n")
    if arguments.output:
        common.write_json(arguments.output, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
