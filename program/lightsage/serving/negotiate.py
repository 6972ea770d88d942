"""What a request is and what it asks for: media types, the Accept header (the answer's media type, q-values
honoured, JSON by default), the `explain` flag, and SageMaker's custom attributes.

A request the server cannot take raises PayloadError: its HTTP status and a JSON body naming the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lightsage.errors import UserError

CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/jsonlines"
JSON_LINES_ALIASES = (
    "application/jsonlines",
    "application/x-jsonlines",
    "application/jsonl",
    "application/x-ndjson",
)
REQUEST_TYPES = (CSV, JSON, *JSON_LINES_ALIASES)
RESPONSE_TYPES = (JSON, CSV, *JSON_LINES_ALIASES)


class PayloadError(UserError):
    """A client mistake: becomes a JSON error body with this status."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.details}


def bad_request(message: str, **details: Any) -> PayloadError:
    return PayloadError(400, message, **details)


def media_type(header: str | None) -> str:
    """`text/csv; charset=utf-8` -> `text/csv`; media types compare without parameters or case."""
    return (header or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class _Range:
    media_type: str
    quality: float
    order: int
    parameters: dict[str, str]

    @property
    def specificity(self) -> int:
        return 0 if self.media_type == "*/*" else 1 if self.media_type.endswith("/*") else 2

    def matches(self, candidate: str) -> bool:
        if self.media_type == "*/*":
            return True
        if self.media_type.endswith("/*"):
            return candidate.startswith(self.media_type[:-1])
        return candidate == self.media_type


def _parameters(pieces: Sequence[str]) -> dict[str, str]:
    parameters = {}
    for piece in pieces:
        name, _, value = piece.partition("=")
        if name.strip():
            parameters[name.strip().lower()] = value.strip().strip('"')
    return parameters


def _ranges(accept: str) -> list[_Range]:
    ranges = []
    for order, part in enumerate(accept.split(",")):
        kind, *pieces = (piece.strip() for piece in part.split(";"))
        if not kind:
            continue
        parameters = _parameters(pieces)
        try:
            quality = min(max(float(parameters.pop("q", "1")), 0.0), 1.0)
        except ValueError:
            quality = 0.0
        ranges.append(_Range(kind.lower(), quality, order, parameters))
    return ranges


@dataclass(frozen=True)
class AnswerFormat:
    """How to answer: the media type, and whether to add each row's feature contributions."""

    media_type: str
    explain: bool = False


# The Accept values clients send most often, answered without parsing the header.
_EXACT_ACCEPT = {media: AnswerFormat(media) for media in RESPONSE_TYPES} | {"*/*": AnswerFormat(JSON)}
_EXPLAIN_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _explain_flag(value: str | None, where: str) -> bool:
    if value is None:
        return False
    flag = _EXPLAIN_WORDS.get(value.strip().lower())
    if flag is None:
        raise bad_request(f"{where}: explain={value!r} must be true or false")
    return flag


def custom_attributes(header: str | None) -> dict[str, str]:
    """SageMaker's X-Amzn-SageMaker-Custom-Attributes (InvokeEndpoint's CustomAttributes): `key=value` pairs
    separated by commas or semicolons."""
    return _parameters((header or "").replace(";", ",").split(","))


def answer_format(accept: str | None, attributes: str | None = None) -> AnswerFormat:
    """The answer's media type for an Accept header (q-values honoured, JSON by default), and whether to
    explain it: the chosen Accept entry's `explain` parameter, or `explain` in the custom attributes."""
    if accept in _EXACT_ACCEPT and not attributes:
        return _EXACT_ACCEPT[accept]
    explain = _explain_flag(
        custom_attributes(attributes).get("explain"), "X-Amzn-SageMaker-Custom-Attributes"
    )
    if not accept or not accept.strip():
        return AnswerFormat(JSON, explain)
    best: tuple[float, int, int] | None = None
    chosen: tuple[str, _Range] | None = None
    ranges = _ranges(accept)
    for candidate in RESPONSE_TYPES:
        matching = [entry for entry in ranges if entry.matches(candidate)]
        if not matching:
            continue
        entry = max(matching, key=lambda e: (e.specificity, -e.order))
        if entry.quality <= 0:
            continue
        rank = (entry.quality, entry.specificity, -entry.order)
        if best is None or rank > best:
            best, chosen = rank, (candidate, entry)
    if chosen is None:
        raise PayloadError(
            406,
            f"cannot answer with Accept {accept!r}; accept one of {', '.join((JSON, CSV, JSON_LINES))}",
            supported=[JSON, CSV, JSON_LINES],
        )
    media, entry = chosen
    return AnswerFormat(media, explain or _explain_flag(entry.parameters.get("explain"), "Accept"))


def response_type(accept: str | None) -> str:
    return answer_format(accept).media_type
