import pytest

from byoc.hyperparameters import SPECS, HyperparameterError, parse_hyperparameters


def test_defaults_when_nothing_is_given() -> None:
    parsed = parse_hyperparameters({})
    assert parsed == {spec.name: spec.default for spec in SPECS}
    assert parsed["target"] == "Survived"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"n_estimators": "100"}, {"n_estimators": 100}),
        ({"n_estimators": "100.0"}, {"n_estimators": 100}),
        ({"learning_rate": "0.05"}, {"learning_rate": 0.05}),
        ({"learning_rate": '"0.05"'}, {"learning_rate": 0.05}),
        ({"class_weight": '"balanced"'}, {"class_weight": "balanced"}),
        ({"target": '"Survived"'}, {"target": "Survived"}),
        ({"max_depth": "-1"}, {"max_depth": -1}),
        ({"cv_folds": " 5 "}, {"cv_folds": 5}),
        ({"n_estimators": 250}, {"n_estimators": 250}),
    ],
)
def test_string_and_json_quoted_values_parse(raw: dict[str, str], expected: dict[str, object]) -> None:
    parsed = parse_hyperparameters(raw)
    for key, value in expected.items():
        assert parsed[key] == value
        assert type(parsed[key]) is type(value)


def test_tuner_and_sdk_keys_are_ignored() -> None:
    parsed = parse_hyperparameters(
        {
            "_tuning_objective_metric": "validation:auc",
            "sagemaker_program": "x",
            "sagemaker_region": '"eu-west-1"',
        }
    )
    assert "_tuning_objective_metric" not in parsed
    assert not any(key.startswith("sagemaker_") for key in parsed)


def test_unknown_key_names_it_suggests_and_lists_choices() -> None:
    with pytest.raises(HyperparameterError) as caught:
        parse_hyperparameters({"n_estimator": "10"})
    message = str(caught.value)
    assert "unknown hyperparameter 'n_estimator'" in message
    assert "did you mean 'n_estimators'" in message
    assert "learning_rate" in message and "num_leaves" in message


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("n_estimators", "ten", "is not a valid int"),
        ("n_estimators", "1.5", "is not a valid int"),
        ("n_estimators", "0", "must be between 1 and 100000"),
        ("learning_rate", "fast", "is not a valid float"),
        ("learning_rate", "nan", "is not a valid float"),
        ("learning_rate", "0", "must be in (0, 1]"),
        ("subsample", "1.5", "must be in (0, 1]"),
        ("num_leaves", "1", "must be >= 2"),
        ("max_depth", "0", "must be -1 or >= 1"),
        ("cv_folds", "1", "must be 0 or between 2 and 20"),
        ("class_weight", "heavy", "is not one of none, balanced"),
    ],
)
def test_bad_values_name_the_key_and_the_rule(key: str, value: str, fragment: str) -> None:
    with pytest.raises(HyperparameterError) as caught:
        parse_hyperparameters({key: value})
    assert f"hyperparameter '{key}'" in str(caught.value)
    assert fragment in str(caught.value)
