"""The woman-child-group rule that bench/model_quality.py compares the Titanic recipe with, case by case."""

import numpy as np
import pandas as pd

from bench.woman_child_group import woman_child_group_rule

# name, sex, class, ticket, fare, port, label (None: not known to the rule), what the rule answers
PASSENGERS = [
    ("Smith, Mr. John", "male", 3, "1001", 10.0, "S", 1, 0),  # men die, whatever their family did
    ("Smith, Mrs. John", "female", 3, "1001", 10.0, "S", 0, 0),  # known rows count themselves (never scored)
    ("Smith, Miss. Ann", "female", 3, "1001", 10.0, "S", None, 0),  # her family's known women all died
    ("Smith, Master. Tom", "male", 3, "1001", 10.0, "S", None, 0),
    ("Green, Miss. Nanny", "female", 3, "1001", 10.0, "S", None, 0),  # joins the Smiths by her ticket
    ("Smith, Miss. Cousin", "female", 3, "1009", 12.0, "S", None, 1),  # another fare: another family
    ("Jones, Mrs. A", "female", 1, "2002", 50.0, "C", 1, 1),
    ("Jones, Master. B", "male", 1, "2002", 50.0, "C", None, 1),  # his family's known all survived
    ("Jones, Master. C", "male", 1, "2003", 50.0, "Q", None, 0),  # other port and ticket: alone, a male
    ("Lee, Mrs. C", "female", 3, "3003", 8.0, "S", None, 1),  # alone: females survive
    ("King, Mrs. F", "female", 2, "4004", 20.0, "S", None, 1),  # a family nobody knows changes nothing
    ("King, Master. E", "male", 2, "4004", 20.0, "S", None, 0),
    ("Ward, Mrs. G", "female", 3, "5005", 15.0, "S", 1, 1),
    ("Ward, Miss. H", "female", 3, "5005", 15.0, "S", 0, 1),
    ("Ward, Master. I", "male", 3, "5005", 15.0, "S", None, 0),  # mixed family: boys die
    ("Ward, Miss. J", "female", 3, "5005", 15.0, "S", None, 1),  # mixed family: females survive
]


def frame_and_labels() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    frame = pd.DataFrame(
        [row[:6] for row in PASSENGERS], columns=["Name", "Sex", "Pclass", "Ticket", "Fare", "Embarked"]
    )
    frame["Pclass"] = frame["Pclass"].astype(float)
    labels = np.array([np.nan if row[6] is None else row[6] for row in PASSENGERS], dtype=float)
    expected = np.array([row[7] for row in PASSENGERS], dtype=float)
    return frame, labels, ~np.isnan(labels), expected


def test_the_rule_answers_each_case_as_written() -> None:
    frame, labels, known, expected = frame_and_labels()
    answers = woman_child_group_rule(frame, labels, known)
    wrong = [PASSENGERS[row][0] for row in np.flatnonzero(answers != expected)]
    assert not wrong


def test_the_rule_never_reads_the_labels_of_rows_it_does_not_know() -> None:
    frame, labels, known, expected = frame_and_labels()
    for filler in (0.0, 1.0):
        assert np.array_equal(woman_child_group_rule(frame, np.where(known, labels, filler), known), expected)
