"""The data baseline: exact counts, a quantile sketch within its error, builders that merge like one pass,
files in Model Monitor's shapes that the SDK's readers load, and readers that name what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import numpy as np
import pyarrow as pa
import pytest
from monitorshapes import CONSTRAINTS, STATISTICS, check
from moto import mock_aws

from lightsage.data.schema import number, text
from lightsage.evaluation import baseline
from lightsage.evaluation.baseline import BaselineError, StatisticsBuilder, read_constraints, read_statistics

COLUMNS = [number("amount"), number("count"), text("colour"), text("sex", ("male", "female")), text("name")]


def batch(rng: np.random.Generator, rows: int, start: int = 0) -> pa.Table:
    amount = rng.normal(50.0, 10.0, rows)
    amount[rng.random(rows) < 0.1] = np.nan
    colours = rng.choice(["red", "green", "blue"], rows, p=[0.6, 0.3, 0.1]).tolist()
    return pa.table(
        {
            "amount": amount,
            "count": rng.integers(0, 5, rows).astype(float),
            "colour": pa.array([None if i % 17 == 0 else c for i, c in enumerate(colours)], pa.string()),
            "sex": rng.choice(["male", "female"], rows).tolist(),
            "name": [f"passenger {start + i}" for i in range(rows)],
        }
    )


def built(batches: list[pa.Table]) -> StatisticsBuilder:
    builder = StatisticsBuilder(COLUMNS)
    for one in batches:
        builder.observe(one)
    return builder


def test_statistics_and_constraints_are_in_the_documented_shapes_with_exact_counts() -> None:
    rng = np.random.default_rng(0)
    batches = [batch(rng, 3000, 3000 * i) for i in range(4)]
    builder = built(batches)
    statistics, constraints = builder.statistics(), builder.constraints()
    check(statistics, STATISTICS)
    check(constraints, CONSTRAINTS)
    amounts = np.concatenate([b.column("amount").to_numpy() for b in batches])
    present = amounts[~np.isnan(amounts)]
    features = {feature["name"]: feature for feature in statistics["features"]}
    numbers = features["amount"]["numerical_statistics"]
    assert numbers["common"] == {"num_present": len(present), "num_missing": len(amounts) - len(present)}
    assert numbers["mean"] == pytest.approx(present.mean()) and numbers["std_dev"] == pytest.approx(
        present.std()
    )
    assert sum(b["count"] for b in numbers["distribution"]["kll"]["buckets"]) == pytest.approx(len(present))
    assert (
        features["amount"]["inferred_type"] == "Fractional"
        and features["count"]["inferred_type"] == "Integral"
    )
    by_name = {feature["name"]: feature for feature in constraints["features"]}
    assert by_name["sex"]["string_constraints"]["domains"] == ["male", "female"]
    assert by_name["colour"]["string_constraints"]["domains"] == ["blue", "green", "red"]
    assert "string_constraints" not in by_name["name"]  # every value seen once: an open column
    assert by_name["count"]["num_constraints"] == {"is_non_negative": True}


def test_the_quantile_sketch_keeps_ranks_within_its_error() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(0.0, 1.0, 300_000)
    summary = baseline.NumberSummary("x")
    for chunk in np.array_split(values, 7):
        summary.observe(chunk)
    statistics = read_statistics(
        {
            "features": [
                {"name": "x", "inferred_type": "Fractional", "numerical_statistics": summary.statistics()}
            ]
        },
        "test",
    )
    sketch = statistics.features["x"]
    assert sketch.weights.sum() == len(values)
    ordered = np.sort(values)
    for quantile in (0.01, 0.25, 0.5, 0.75, 0.99):
        estimate = sketch.items[np.searchsorted(np.cumsum(sketch.weights), quantile * len(values))]
        rank = np.searchsorted(ordered, estimate) / len(values)
        assert abs(rank - quantile) < 0.005


def test_merged_builders_equal_one_pass() -> None:
    rng = np.random.default_rng(2)
    batches = [batch(rng, 2000, 2000 * i) for i in range(4)]
    whole = built(batches)
    parts = [built(batches[:1]).to_bytes(), built(batches[1:3]).to_bytes(), built(batches[3:]).to_bytes()]
    merged = StatisticsBuilder(COLUMNS).merged_with(parts)
    first, second = whole.statistics(), merged.statistics()
    for mine, theirs in zip(first["features"], second["features"], strict=True):
        key = "numerical_statistics" if "numerical_statistics" in mine else "string_statistics"
        assert mine[key]["common"] == theirs[key]["common"]
        if key == "numerical_statistics":
            assert mine[key]["mean"] == pytest.approx(theirs[key]["mean"])
            assert mine[key]["std_dev"] == pytest.approx(theirs[key]["std_dev"])
        else:
            assert mine[key].get("distribution") == theirs[key].get("distribution")
    assert whole.constraints() == merged.constraints()


def test_free_text_beyond_the_tracked_values_is_estimated() -> None:
    summary = baseline.TextSummary("id")
    total = baseline.TRACKED_VALUES * 3
    for start in range(0, total, 5000):
        summary.observe(pa.array([f"id-{i}" for i in range(start, start + 5000)]))
    assert summary.counts is None
    assert summary.distinct_count == pytest.approx(total, rel=0.05)
    assert "distribution" not in summary.statistics()


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"features": [{"inferred_type": "String"}]}, "features[0] has no name"),
        ({"features": [{"name": "a", "inferred_type": "Text"}]}, "feature 'a': inferred_type is 'Text'"),
        ({"features": [{"name": "a", "inferred_type": "String"}], "monitoring_config": {
            "distribution_constraints": {"comparison_method": "Median"}}}, "comparison_method is 'Median'"),
        ({"features": [{"name": "a", "inferred_type": "String", "completeness": 1.5}]},
         "completeness is 1.5"),
    ],
)  # fmt: skip
def test_a_constraints_file_out_of_shape_is_named(document: dict, expected: str) -> None:
    with pytest.raises(BaselineError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        read_constraints(document, "constraints.json")


def test_overrides_are_read_in_both_spellings() -> None:
    for key in ("monitoringConfigOverrides", "monitoring_config_overrides"):
        document = {
            "features": [{"name": "a", "inferred_type": "String", key: {"evaluate_constraints": "Disabled"}}]
        }
        assert read_constraints(document, "c").features["a"].config.evaluate_constraints is False


def test_the_sdk_s_model_monitor_classes_load_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sagemaker import Session
    from sagemaker.model_monitor import Constraints, ConstraintViolations, Statistics

    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    builder = built([batch(np.random.default_rng(3), 500)])
    files = {
        "statistics.json": builder.statistics(),
        "constraints.json": builder.constraints(),
        "constraint_violations.json": {"violations": [
            {"feature_name": "amount", "constraint_check_type": "baseline_drift_check", "description": "d"}]},
    }  # fmt: skip
    for name, document in files.items():
        (tmp_path / name).write_text(json.dumps(document))
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="monitor-formats")
        session = Session(boto3.session.Session(), default_bucket="monitor-formats")
        loaded = [
            Statistics.from_file_path(str(tmp_path / "statistics.json"), sagemaker_session=session),
            Constraints.from_file_path(str(tmp_path / "constraints.json"), sagemaker_session=session),
            ConstraintViolations.from_file_path(
                str(tmp_path / "constraint_violations.json"), sagemaker_session=session
            ),
        ]
    for document, reader in zip(files.values(), loaded, strict=True):
        assert reader.body_dict == document


def test_a_number_batch_is_summed_up_from_its_present_values_sorted() -> None:
    values = np.array([3.5, np.nan, -2.0, 7.0, np.nan, 3.5, 0.25])
    part = baseline.NumberPart.of(values, not_numbers=1)
    present = values[~np.isnan(values)]

    assert part.ordered.tolist() == sorted(present.tolist())
    assert (part.missing, part.not_numbers, part.fractional) == (1, 1, 3)  # one NaN is the cell not a number
    assert part.total == present.sum() and part.mean == pytest.approx(present.mean())
    assert part.squares == pytest.approx(((present - present.mean()) ** 2).sum())
    summary = baseline.NumberSummary("x")
    summary.add(part)
    summary.add(baseline.NumberPart.of(np.array([np.nan, np.nan])))
    assert (summary.present, summary.missing, summary.not_numbers) == (5, 3, 1)
    assert (summary.low, summary.high, summary.sketch.n) == (-2.0, 7.0, 5)
    assert summary.squares / summary.present == pytest.approx(present.var())
