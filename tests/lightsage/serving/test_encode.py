"""Answers per task in every format."""

import json

import numpy as np

from lightsage.serving.encode import Encoder
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
