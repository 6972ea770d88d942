"""What clients see at the edge: raw bytes at nginx, including requests no HTTP library would send.

Two rules hold for every request. Every answer with a body is JSON (nginx answers its own errors with JSON,
and gunicorn only gets requests nginx rebuilt, so its HTML error pages never come back). And a path means the
same to nginx and to the app: nginx routes on the normalised path and forwards exactly that path.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testsupport import VALIDATION_CSV, Server, healthy_server, raw_request

pytestmark = pytest.mark.container
CSV = VALIDATION_CSV.read_bytes()
ROWS = len(CSV.splitlines()) - 1
HOST = b"Host: x"
CSV_TYPE = b"Content-Type: text/csv"
CHUNKED = b"Transfer-Encoding: chunked"


def request(line: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    """One raw HTTP/1.x request: the request line, header lines and body, each line ended by CRLF."""
    return line + b"\r\n" + b"".join(header + b"\r\n" for header in headers) + b"\r\n" + body


def post(path: bytes, *headers: bytes, body: bytes = CSV) -> bytes:
    length = b"Content-Length: %d" % len(body)
    return request(b"POST " + path + b" HTTP/1.1", HOST, *(headers or (CSV_TYPE,)), length, body=body)


def get(path: bytes, *headers: bytes, method: bytes = b"GET") -> bytes:
    return request(method + b" " + path + b" HTTP/1.1", HOST, *headers)


@pytest.fixture(scope="module")
def server(image: str, trained_model_dir: Path) -> Iterator[Server]:
    with healthy_server(image, trained_model_dir.parent) as running:
        yield running


# (request bytes, status, a fragment of the JSON error)
NGINX_ERRORS = {
    "malformed request line": (request(b"GARBAGE"), 400, "bad request"),
    "lower-case method": (get(b"/ping", method=b"get"), 400, "bad request"),
    "CONNECT": (request(b"CONNECT x:443 HTTP/1.1", HOST), 400, "bad request"),
    "asterisk target": (get(b"*", method=b"OPTIONS"), 400, "bad request"),
    "HTTP/2 preface on HTTP/1": (request(b"PRI * HTTP/2.0", body=b"SM\r\n\r\n"), 400, "bad request"),
    "space in the path": (get(b"/pi ng"), 400, "bad request"),
    "unknown HTTP version": (request(b"GET /ping HTTP/9.9", HOST), 505, "HTTP version"),
    "HTTP/1.1 without Host": (request(b"GET /ping HTTP/1.1"), 400, "bad request"),
    "two Host headers": (get(b"/ping", b"Host: b"), 400, "bad request"),
    "control character in Host": (request(b"GET /ping HTTP/1.1", b"Host: a\x01b"), 400, "bad request"),
    "folded header": (get(b"/ping", b"X-A: 1", b" 2"), 400, "bad request"),
    "/../ping": (get(b"/../ping"), 400, "bad request"),
    "/%2e%2e/ping": (get(b"/%2e%2e/ping"), 400, "bad request"),
    "/invocations/../../x": (get(b"/invocations/../../x"), 400, "bad request"),
    "NUL in the path": (get(b"/ping%00"), 400, "bad request"),
    "bad percent-encoding": (get(b"/pi%zzng"), 400, "bad request"),
    "URL over 8 KB": (get(b"/ping?" + b"a" * 20_000), 414, "URI is too long"),
    "one header over 8 KB": (get(b"/ping", b"X-Big: " + b"a" * 20_000), 431, "headers are too large"),
    "headers over 32 KB": (
        get(b"/ping", *(b"X-H%d: %s" % (i, b"a" * 4000) for i in range(12))),
        431,
        "headers are too large",
    ),
    "malformed chunk size": (
        request(b"POST /invocations HTTP/1.1", HOST, CSV_TYPE, CHUNKED, body=b"zz\r\nabc\r\n0\r\n\r\n"),
        400,
        "bad request",
    ),
    "Content-Length with chunked": (
        request(b"POST /invocations HTTP/1.1", HOST, b"Content-Length: 3", CHUNKED, body=b"0\r\n\r\n"),
        400,
        "bad request",
    ),
    "non-numeric Content-Length": (
        request(b"POST /invocations HTTP/1.1", HOST, b"Content-Length: abc"),
        400,
        "bad request",
    ),
    "unknown Transfer-Encoding": (
        request(b"POST /invocations HTTP/1.1", HOST, b"Transfer-Encoding: gzip"),
        501,
        "Transfer-Encoding",
    ),
    "Content-Length over the limit": (
        request(b"POST /invocations HTTP/1.1", HOST, CSV_TYPE, b"Content-Length: 99999999"),
        413,
        "6 MB limit",
    ),
    "control character in Accept": (
        post(b"/invocations", CSV_TYPE, b"Accept: a\x01b"),
        400,
        "control character",
    ),
    "control character in Content-Encoding": (
        post(b"/invocations", CSV_TYPE, b"Content-Encoding: gz\x01ip"),
        400,
        "control character",
    ),
    "control character in Content-Type": (
        post(b"/invocations", b"Content-Type: text/\x1fcsv"),
        400,
        "control character",
    ),
    "TRACE": (get(b"/invocations", method=b"TRACE"), 405, "Method Not Allowed"),
    "POST /ping": (post(b"/ping"), 405, "Method Not Allowed"),
    "unknown method on /ping": (get(b"/ping", method=b"FOO"), 405, "Method Not Allowed"),
    "unknown path": (get(b"/nowhere"), 404, "not found"),
    "trailing slash": (get(b"/ping/"), 404, "not found"),
    "upper-case path": (get(b"/PING"), 404, "not found"),
    "backslashes": (get(b"/\\..\\ping"), 404, "not found"),
    "path parameter": (get(b"/ping;a"), 404, "not found"),
    "8-bit path": (get(b"/\xffping"), 404, "not found"),
    "nginx's internal error location": (get(b"/.byoc-error"), 404, "not found"),
}


@pytest.mark.parametrize(
    ("request_bytes", "status", "fragment"), NGINX_ERRORS.values(), ids=list(NGINX_ERRORS)
)
def test_every_error_nginx_answers_itself_is_json(
    server: Server, request_bytes: bytes, status: int, fragment: str
) -> None:
    answer = raw_request(server.port, request_bytes)
    assert answer is not None
    assert answer.status == status, answer.body
    assert fragment in answer.json_error()
    if status == 405:
        assert answer.headers["Allow"]


# Requests gunicorn itself would refuse with an HTML page, had nginx passed them on as sent.
ODD_BUT_VALID = {
    "control character in another header": post(b"/invocations", CSV_TYPE, b"X-Note: a\x01b"),
    "unknown Expect": post(b"/invocations", CSV_TYPE, b"Expect: something"),
    "conflicting scheme headers": post(
        b"/invocations", CSV_TYPE, b"X-Forwarded-Proto: https", b"X-Forwarded-Ssl: off"
    ),
    "150 headers": post(b"/invocations", CSV_TYPE, *(b"X-H%d: v" % i for i in range(150))),
    "header line near 8 KB": post(b"/invocations", CSV_TYPE, b"X-Big: " + b"a" * 8100),
    "6 KB query string": post(b"/invocations?" + b"a" * 6000),
    "8-bit query string": post(b"/invocations?\xff\x80"),
    "two Content-Type headers": post(b"/invocations", CSV_TYPE, b"Content-Type: text/plain"),
    "header name with underscore": post(b"/invocations", CSV_TYPE, b"X_Forwarded_For: 1.2.3.4"),
    "chunked body": request(
        b"POST /invocations HTTP/1.1",
        HOST,
        CSV_TYPE,
        CHUNKED,
        body=b"%x\r\n%s\r\n0\r\n\r\n" % (len(CSV), CSV),
    ),
    "HTTP/1.0": post(b"/invocations").replace(b"HTTP/1.1", b"HTTP/1.0"),
    "gzip body": post(b"/invocations", CSV_TYPE, b"Content-Encoding: gzip", body=gzip.compress(CSV)),
    "absolute URI": post(b"http://elsewhere/invocations"),
    # Paths nginx normalises to /invocations: forwarded as /invocations, so the app agrees.
    "//invocations": post(b"//invocations"),
    "/./invocations": post(b"/./invocations"),
    "/x/../invocations": post(b"/x/../invocations"),
    "/%69nvocations": post(b"/%69nvocations"),
}


@pytest.mark.parametrize("request_bytes", ODD_BUT_VALID.values(), ids=list(ODD_BUT_VALID))
def test_odd_but_valid_requests_get_their_predictions(server: Server, request_bytes: bytes) -> None:
    answer = raw_request(server.port, request_bytes)
    assert answer is not None
    assert answer.status == 200, answer.body[:300]
    assert len(json.loads(answer.body)["predictions"]) == ROWS


@pytest.mark.parametrize("path", [b"/ping", b"//ping", b"/./ping", b"/%70ing", b"/ping?x=1", b"/x/../ping"])
def test_ping_paths_nginx_normalises_are_ping(server: Server, path: bytes) -> None:
    answer = raw_request(server.port, get(path))
    assert answer is not None and (answer.status, answer.body) == (200, b"")


def test_head_and_options(server: Server) -> None:
    head = raw_request(server.port, get(b"/ping", method=b"HEAD"))
    assert head is not None and (head.status, head.body) == (200, b"")
    options = raw_request(server.port, get(b"/ping", method=b"OPTIONS"))
    assert options is not None and options.status == 200
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS"
    options = raw_request(server.port, get(b"/invocations", method=b"OPTIONS"))
    assert options is not None and options.status == 200 and "POST" in options.headers["Allow"]
    head = raw_request(server.port, get(b"/execution-parameters", method=b"HEAD"))
    assert head is not None and (head.status, head.body) == (200, b"")
    for path, status in [(b"/nowhere", 404), (b"/invocations", 405)]:
        head = raw_request(server.port, get(path, method=b"HEAD"))
        assert head is not None and head.status == status and head.body == b""
        assert head.headers["Content-Type"].startswith("application/json")


methods = st.one_of(
    st.sampled_from([b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"PATCH", b"get"]),
    st.binary(min_size=1, max_size=8),
)
path_pieces = st.sampled_from(
    [b"/", b"ping", b"invocations", b"execution-parameters", b"..", b".", b"//", b"%2e", b"%2f", b"%00", b"%",
     b"%zz", b"%70", b"?", b"#", b";", b"\\", b"\xff", b" ", b"a" * 3000, b"\t"]
)  # fmt: skip
header_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                CSV_TYPE,
                b"Accept: text/csv",
                b"Accept: image/png",
                CHUNKED,
                b"Content-Length: 5",
                b"Host: y",
                b"Content-Length: -1",
                b"Expect: 100-continue",
                b"Connection: close",
                b"Accept: \x7f",
            ]
        ),
        st.binary(max_size=60).filter(lambda line: b"\r" not in line and b"\n" not in line),
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=methods,
    path=st.lists(path_pieces, min_size=1, max_size=6).map(b"".join),
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1 extra", b"http/1.1"]),
    headers=header_lines,
    body=st.sampled_from([b"", b"hello", CSV[:500], b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\n"]),
)
def test_whatever_the_bytes_every_answer_with_a_body_is_json(
    server: Server, method: bytes, path: bytes, version: bytes, headers: list[bytes], body: bytes
) -> None:
    answer = raw_request(
        server.port,
        request(method + b" " + path + b" " + version, HOST, *headers, body=body),
        half_close=True,
    )
    if answer is None:
        return  # nginx closed without answering (for example a body shorter than announced)
    assert answer.status not in (500, 502, 504), (answer.status, answer.body)
    if answer.status >= 400 and method != b"HEAD":
        assert answer.json_error()
