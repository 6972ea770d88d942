"""The woman-child-group rule: the simple baseline the Titanic recipe must beat on passengers it has not seen.

Chris Deotte's rule ("Titanic using Name only", Kaggle), which scores about 0.80 accuracy on the competition's
test passengers. `bench/model_quality.py` scores it on exactly the rows it scores the model on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def woman_child_group_rule(frame: pd.DataFrame, labels: np.ndarray, known: np.ndarray) -> np.ndarray:
    """0/1 predictions for every row of `frame`, from the labels of the `known` rows only.

    A family is a surname with one class, ticket stem (the ticket without its last character), fare and port;
    only women and boys (title Master) belong to one, and only when it holds at least two of them, counting
    rows whose label is not known too. A woman or boy left alone joins the family of a woman or boy with the
    same ticket (nannies, relatives). Then every male dies except boys whose family's known women and boys all
    survived, and every female survives except those whose family's known women and boys all died. A family
    with no known member changes nothing.
    """
    name = frame["Name"].fillna("").astype(str)
    female = (frame["Sex"] == "female").to_numpy()
    boy = ~female & name.str.contains("Master", regex=False).to_numpy()
    women_and_boys = female | boy
    family = (
        name.str.split(",").str[0]
        + "-" + frame["Pclass"].astype(str)
        + "-" + frame["Ticket"].fillna("").astype(str).str[:-1]
        + "-" + frame["Fare"].astype(str)
        + "-" + frame["Embarked"].fillna("").astype(str)
    ).where(women_and_boys)  # fmt: skip
    family = family.where(family.map(family.value_counts()) >= 2)
    tickets = frame["Ticket"]
    grouped = pd.DataFrame({"ticket": tickets, "family": family}).dropna()
    family_of_ticket = grouped.drop_duplicates("ticket").set_index("ticket")["family"]
    alone = women_and_boys & family.isna().to_numpy()
    family[alone] = tickets[alone].map(family_of_ticket)
    known_labels = pd.Series(np.where(known, labels, np.nan), index=frame.index)
    rate = family.map(known_labels.groupby(family).mean()).to_numpy()
    all_died, all_survived = rate == 0.0, rate == 1.0
    return np.where(female, ~all_died, boy & all_survived).astype(float)
