"""Answers per task in every format."""

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lightsage.serving.encode import BATCH_ROWS, Encoder, float_texts
from lightsage.tasks import Task


def test_answers_per_task_in_every_format() -> None:
    binary = Encoder(Task.BINARY, ["no", "yes"])
    scores = np.array([0.75, 0.125])
    expected = [{"label": "yes", "probability": 0.75}, {"label": "no", "probability": 0.125}]
    assert json.loads(binary.encode(scores, "application/json")) == {"predictions": expected}
    assert binary.encode(scores, "text/csv") == "yes,0.75\nno,0.125\n"
    assert [
        json.loads(line) for line in binary.encode(scores, "application/jsonlines").splitlines()
    ] == expected
    multiclass = Encoder(Task.MULTICLASS, ["Adelie", "Gentoo", 'a "quoted", name'])
    probabilities = np.array([[0.25, 0.5, 0.25]])
    assert json.loads(multiclass.encode(probabilities, "application/json"))["predictions"] == [
        {"label": "Gentoo", "probabilities": {"Adelie": 0.25, "Gentoo": 0.5, 'a "quoted", name': 0.25}}
    ]
    assert multiclass.encode(probabilities, "text/csv") == "Gentoo,0.25,0.5,0.25\n"
    regression = Encoder(Task.REGRESSION, [])
    assert json.loads(regression.encode(np.array([1.5, -2.0]), "application/json")) == {
        "predictions": [{"prediction": 1.5}, {"prediction": -2.0}]
    }
    assert regression.encode(np.array([1.5]), "text/csv") == "1.5\n"


NUMBER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=0.0, max_value=1.0),
    st.sampled_from(
        [0.0, -0.0, 1.0, 0.5, 1e-4, 9.999999999999999e-05, 1e10, 9999999999.999998, 1e16, 5e-324]
    ),
    st.integers(-(10**12), 10**12).map(float),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(NUMBER, max_size=40))
def test_float_texts_are_pythons_repr(values: list[float]) -> None:
    assert float_texts(np.array(values, dtype=np.float64)).to_pylist() == [repr(value) for value in values]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([Task.BINARY, Task.MULTICLASS, Task.REGRESSION]),
    st.sampled_from(["application/json", "application/jsonlines", "text/csv"]),
    st.data(),
)
def test_large_answers_are_the_text_of_the_row_by_row_path(
    task: Task, accept: str, data: st.DataObject
) -> None:
    classes = {Task.BINARY: [0, 1], Task.MULTICLASS: ["a", 'b "q", x', 3], Task.REGRESSION: []}[task]
    encoder = Encoder(task, classes)
    rows = data.draw(st.integers(1, 3 * BATCH_ROWS))
    if task is Task.REGRESSION:
        scores = np.array(data.draw(st.lists(NUMBER, min_size=rows, max_size=rows)))
    else:
        width = 1 if task is Task.BINARY else len(classes)
        probabilities = st.lists(st.floats(0.0, 1.0), min_size=rows * width, max_size=rows * width)
        scores = np.array(data.draw(probabilities)).reshape(rows, width)
        scores = scores[:, 0] if task is Task.BINARY else scores
    assert encoder._batch(scores, accept) == encoder._rows(scores, accept)
    assert encoder.encode(scores, accept) == encoder._rows(scores, accept)
