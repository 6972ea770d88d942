"""The answer's media type from the Accept header, and media types compared."""

import pytest

from lightsage.serving.negotiate import PayloadError, media_type, response_type


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("text/csv;q=0.9, application/json;q=0.5", "text/csv"),
        ("application/json;q=0, text/*", "text/csv"),
        ("application/x-jsonlines", "application/x-jsonlines"),
        ("application/jsonlines;q=1, */*;q=0.1", "application/jsonlines"),
        ("text/html, application/*;q=0.2", "application/json"),
    ],
)
def test_accept_honours_parameters_q_values_and_aliases(accept: str | None, expected: str) -> None:
    assert response_type(accept) == expected


@pytest.mark.parametrize("accept", ["text/html", "application/json;q=0", "image/*"])
def test_unacceptable_accept_is_406(accept: str) -> None:
    with pytest.raises(PayloadError) as caught:
        response_type(accept)
    assert caught.value.status == 406 and "accept one of application/json, text/csv" in caught.value.message


def test_media_types_compare_without_parameters() -> None:
    assert media_type("Text/CSV ; charset=utf-8") == "text/csv"
    assert media_type(None) == ""
