"""Declarative hyperparameters: parsing SageMaker's strings, checks that name the key, recipe changes."""

import pytest

from lightsage.contract.hyperparameters import (
    CORE,
    LIGHTGBM,
    NAMES,
    REQUIRED,
    Hyperparameter,
    HyperparameterError,
    TuningRange,
    parse_hyperparameters,
    with_changes,
)

SPECS = with_changes((*CORE, *LIGHTGBM), defaults={"recipe": "titanic", "target": "Survived"})


def test_defaults_when_nothing_is_given() -> None:
    parsed = parse_hyperparameters({}, SPECS)
    assert parsed == {spec.name: spec.default for spec in SPECS}
    assert parsed["n_estimators"] == 100 and parsed["learning_rate"] == 0.1 and parsed["num_leaves"] == 31


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"n_estimators": "100"}, {"n_estimators": 100}),
        ({"n_estimators": "100.0"}, {"n_estimators": 100}),
        ({"learning_rate": '"0.05"'}, {"learning_rate": 0.05}),
        ({"class_weight": '"balanced"'}, {"class_weight": "balanced"}),
        ({"task": "regression"}, {"task": "regression"}),
        ({"max_depth": "-1"}, {"max_depth": -1}),
        ({"cv_folds": " 5 "}, {"cv_folds": 5}),
        ({"n_estimators": 250}, {"n_estimators": 250}),
    ],
)
def test_string_and_json_quoted_values_parse(raw: dict[str, str], expected: dict[str, object]) -> None:
    parsed = parse_hyperparameters(raw, SPECS)
    for key, value in expected.items():
        assert parsed[key] == value
        assert type(parsed[key]) is type(value)


def test_tuner_and_sdk_keys_are_ignored() -> None:
    parsed = parse_hyperparameters(
        {"_tuning_objective_metric": "validation:auc", "sagemaker_program": "x"}, SPECS
    )
    assert "_tuning_objective_metric" not in parsed and "sagemaker_program" not in parsed


def test_unknown_key_names_it_suggests_and_lists_choices() -> None:
    with pytest.raises(HyperparameterError) as caught:
        parse_hyperparameters({"n_estimator": "10"}, SPECS)
    message = str(caught.value)
    assert "unknown hyperparameter 'n_estimator'" in message and "did you mean 'n_estimators'" in message
    assert "learning_rate" in message


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("n_estimators", "ten", "is not a valid int"),
        ("n_estimators", "0", "must be between 1 and 100000"),
        ("learning_rate", "nan", "is not a valid float"),
        ("learning_rate", "0", "must be in (0, 1]"),
        ("num_leaves", "1", "must be between 2 and 131072"),
        ("cv_folds", "1", "must be 0 or between 2 and 20"),
        ("class_weight", "heavy", "is not one of none, balanced"),
        ("task", "ranking", "is not one of auto, binary, multiclass, regression"),
        ("random_state", "-1", "must be between 0 and 2147483647"),
        ("early_stopping_rounds", "-3", "must be between 0 and 100000"),
    ],
)
def test_bad_values_name_the_key_and_the_rule(key: str, value: str, fragment: str) -> None:
    with pytest.raises(HyperparameterError) as caught:
        parse_hyperparameters({key: value}, SPECS)
    assert f"hyperparameter '{key}'" in str(caught.value) and fragment in str(caught.value)


def test_a_required_hyperparameter_must_be_given() -> None:
    specs = with_changes(CORE, defaults={"recipe": "tabular"})
    assert next(spec for spec in specs if spec.name == "target").default is REQUIRED
    with pytest.raises(HyperparameterError, match="hyperparameter 'target' is required"):
        parse_hyperparameters({}, specs)


def test_lists_of_column_names_take_commas_or_json() -> None:
    spec = (Hyperparameter("ignore_columns", NAMES, (), "columns"),)
    assert parse_hyperparameters({"ignore_columns": "a, b ,c"}, spec)["ignore_columns"] == ("a", "b", "c")
    assert parse_hyperparameters({"ignore_columns": '["a", "b c"]'}, spec)["ignore_columns"] == ("a", "b c")
    with pytest.raises(HyperparameterError, match="not a valid list of column names"):
        parse_hyperparameters({"ignore_columns": "[1, 2]"}, spec)


def test_recipes_change_defaults_and_tuning_ranges_only_of_known_knobs() -> None:
    changed = with_changes(LIGHTGBM, {"num_leaves": 8}, {"num_leaves": TuningRange(4, 64), "max_bin": None})
    by_name = {spec.name: spec for spec in changed}
    assert by_name["num_leaves"].default == 8 and by_name["num_leaves"].tuning == TuningRange(4, 64)
    with pytest.raises(ValueError, match="no such hyperparameter"):
        with_changes(LIGHTGBM, {"num_leafs": 8})


def test_every_tuning_range_lies_inside_the_valid_range() -> None:
    for spec in (*CORE, *LIGHTGBM):
        if spec.tuning is not None:
            for bound in (spec.tuning.low, spec.tuning.high):
                value = spec.kind(bound)
                assert spec.valid(value) or (spec.name == "reg_lambda" and value == 0), spec.name
