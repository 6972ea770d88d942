"""The protocol that chose the Titanic recipe's design (bench/model_quality.py) still chooses it."""

from pathlib import Path

import numpy as np

from bench.model_quality import CANDIDATES, DEFAULT_DESIGN, choose, passengers, settings_of
from lightsage.recipes.titanic import FEATURE_NAMES


def test_the_recipes_defaults_are_one_of_the_candidates() -> None:
    assert CANDIDATES[DEFAULT_DESIGN].features == FEATURE_NAMES
    assert settings_of(CANDIDATES[DEFAULT_DESIGN]) == settings_of()


def test_the_inner_choice_on_the_whole_file_picks_the_recipes_defaults(tmp_path: Path) -> None:
    """What the README claims: the defaults are what the held-out protocol picks when given every row."""
    data = passengers(tmp_path)
    chosen, losses = choose(data, np.arange(len(data.labels)), repeats=2, seed=999)
    assert chosen == DEFAULT_DESIGN, losses
