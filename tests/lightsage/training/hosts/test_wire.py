"""lightsage.training.hosts.wire: what hosts send each other round-trips exactly, and never as pickle."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lightsage.data.channels import ChannelReader, channel_files
from lightsage.recipes.base import Recipe, State, resolve
from lightsage.tasks import class_values, infer_task
from lightsage.training.hosts import wire
from lightsage.training.passes import recipe_labels, typed_batches
from lightsage.training.plan import Channel, profile_channel

from testsupport import TRAIN_CSV


def summary_of(recipe_name: str, settings: dict[str, str]) -> tuple[Recipe, State]:
    """A real recipe's summary of a batch of the committed train split, as `train` makes it."""
    recipe_class, parsed = resolve({"recipe": recipe_name, **settings})
    reader = ChannelReader(channel_files(TRAIN_CSV.parent, "train"))
    profile, target = profile_channel(reader, parsed["target"])
    task = infer_task(target.target_profile(), parsed["target"])
    labels = target.labels(task, class_values(target.target_profile(), task))
    schema = recipe_class.select_inputs(profile, parsed["target"], parsed)
    channel = Channel("train", reader, labels)
    frame, batch_labels = next(typed_batches(channel, schema, channel.labelled))
    recipe = recipe_class(parsed, schema)
    return recipe, recipe.summarise(frame, recipe_labels(batch_labels))


@pytest.mark.parametrize(
    ("recipe_name", "settings"),
    [("titanic", {}), ("tabular", {"target": "Survived", "categorical_columns": "Pclass"})],
)
def test_recipe_summaries_round_trip_to_the_same_state(recipe_name: str, settings: dict[str, str]) -> None:
    recipe, summary = summary_of(recipe_name, settings)
    received = wire.decode(wire.encode(summary))
    expected = recipe.learn(recipe.combine([summary, summary]))
    got = recipe.learn(recipe.combine([received, summary]))
    assert wire.encode(got) == wire.encode(expected)


def test_values_keep_their_types() -> None:
    series = pd.Series([3, 1], index=pd.Index(["b", "a"], name="Embarked"), name="count")
    value = {
        "table": pa.table({"key": ["x", None], "count": [1.0, 2.0]}),
        "frame": pd.DataFrame({"a": [1.5, np.nan], "b": ["u", "v"]}),
        "series": series,
        "numbers": pd.Series([2, 7], index=pd.Index([2.0, 3.0]), name="count"),
        "matrix": np.arange(12, dtype=np.float32).reshape(4, 3),
        "nested": [1, "two", None, True, 2.5, {"deep": np.int64(4)}],
    }
    back = wire.decode(wire.encode(value))
    assert back["table"].equals(value["table"])
    pd.testing.assert_frame_equal(back["frame"], value["frame"])
    pd.testing.assert_series_equal(back["series"], series)
    pd.testing.assert_series_equal(back["numbers"], value["numbers"])
    assert back["matrix"].dtype == np.float32 and np.array_equal(back["matrix"], value["matrix"])
    assert back["nested"] == [1, "two", None, True, 2.5, {"deep": 4}]


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: {"a": object()}, "builtins.object"),
        (lambda: {1: "key"}, "keys must be strings"),
        (lambda: np.array(["text"], dtype=object), "numpy.ndarray"),
    ],
)
def test_other_objects_are_refused_naming_their_type(make: Callable[[], object], named: str) -> None:
    with pytest.raises(TypeError, match=named):
        wire.encode(make())


def test_pickles_are_not_decoded() -> None:
    with pytest.raises(ValueError, match="not an encoded value"):
        wire.decode(pickle.dumps({"a": 1}))


@pytest.mark.parametrize("key", ["__wire__", "___wire__", "__table__", "__", "___", "blob", "_"])
def test_a_key_named_like_the_tag_comes_back_as_itself(key: str) -> None:
    """Issue 18, item 8, for what hosts send each other: a column named `__wire__` read as the tag."""
    value = {key: pd.Series([3, 1], index=["a", "b"], name=key), "nested": {key: {key: "table", "blob": 0}}}
    back = wire.decode(wire.encode(value))
    assert list(back) == [key, "nested"] and back["nested"] == {key: {key: "table", "blob": 0}}
    pd.testing.assert_series_equal(back[key], value[key])
