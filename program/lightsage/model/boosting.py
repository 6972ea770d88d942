"""LightGBM: its parameters from the hyperparameters and task, its datasets from feature chunks.

Features arrive chunk by chunk as float32 and LightGBM bins the list of chunks where they are (its C API's
`LGBM_DatasetCreateFromMats`, which samples the rows for its bin boundaries itself), so the table, a float
copy of it and the binned Dataset never sit in memory together: once the Dataset is constructed the chunks
are dropped.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np

from lightsage.contract.hyperparameters import LIGHTGBM_PARAMETER_NAMES
from lightsage.tasks import LIGHTGBM_METRIC, LIGHTGBM_OBJECTIVE, Task, class_weights

FEATURE_DTYPE = np.float32
# LightGBM's row layout of histograms: for tables of at most this many features and bins in all, boosted on
# at most this many threads.
ROW_LAYOUT_MAX_FEATURES = 20
ROW_LAYOUT_MAX_BINS = 2_000
ROW_LAYOUT_MAX_THREADS = 16
_FEATURE_MAX = float(np.finfo(FEATURE_DTYPE).max)


def as_features(values: np.ndarray | list) -> np.ndarray:
    """A recipe's output as LightGBM reads it, in training and serving alike: float32, where numbers beyond
    float32's range saturate at its largest value instead of turning into infinity."""
    values = np.asarray(values, dtype=np.float64)
    features = np.empty(values.shape, FEATURE_DTYPE)
    return np.clip(values, -_FEATURE_MAX, _FEATURE_MAX, out=features)  # clipped in float64, then cast


def compact_labels(values: np.ndarray) -> np.ndarray:
    """Labels in float32, as LightGBM holds them, when that changes none of them (class codes always do, and
    so do regression values with few significant digits); else float64. Half the memory for what boosting
    reads anyway; metrics and recipes read them as float64."""
    with np.errstate(over="ignore"):  # a value beyond float32's range is told by the comparison below
        narrow = values.astype(np.float32)
    return narrow if np.array_equal(narrow, values, equal_nan=True) else np.asarray(values, np.float64)


class ContinuedDataset(lgb.Dataset):
    """A Dataset whose init scores already are the raw scores of the model that training continues.

    lightgbm.train(init_model=...) asks each Dataset to predict its raw rows with that model, but the chunks
    are freed once binned. So `raw_scores` computes them chunk by chunk beforehand, they are set as the init
    scores, and the model is only recorded here. The trees that follow are those an uninterrupted run grows.
    """

    def _set_predictor(self, predictor: Any) -> ContinuedDataset:
        self._predictor = predictor
        return self


class FeatureMatrix:
    """Feature rows in float32 chunks with their labels (and, for training rows, nothing else)."""

    def __init__(self, width: int, label_dtype: np.dtype | type = np.float64) -> None:
        self.width = width
        self.label_dtype = np.dtype(label_dtype)
        self.chunks: list[np.ndarray] = []
        self.label_chunks: list[np.ndarray] = []

    def add(self, features: np.ndarray, labels: np.ndarray) -> None:
        if features.shape[1:] != (self.width,):
            raise ValueError(
                f"the recipe returned {features.shape[1:]} features per row, expected {self.width}"
            )
        if len(features):
            self.chunks.append(as_features(features))
            self.label_chunks.append(np.asarray(labels, dtype=self.label_dtype))

    @property
    def rows(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    @property
    def nbytes(self) -> int:
        return sum(chunk.nbytes for chunk in self.chunks)

    def labels(self) -> np.ndarray:
        """Every row's label: the chunks are joined once and kept joined, so callers share one array."""
        if len(self.label_chunks) != 1:
            self.label_chunks = [
                np.concatenate(self.label_chunks) if self.label_chunks else np.empty(0, self.label_dtype)
            ]
        return self.label_chunks[0]

    def dense(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.empty((0, self.width), FEATURE_DTYPE)

    def sample_positions(self, count: int, seed: int) -> np.ndarray | None:
        """The positions of up to `count` rows drawn evenly at random, in order; None for all of them (when
        there are no more)."""
        total = self.rows
        if total <= count:
            return None
        return np.sort(np.random.default_rng(seed).choice(total, size=count, replace=False))

    def sample(self, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to `count` rows drawn evenly at random (all of them when there are fewer), and their labels."""
        chosen = self.sample_positions(count, seed)
        if chosen is None:
            return self.dense(), self.labels()
        starts = np.cumsum([0] + [len(chunk) for chunk in self.chunks])
        features = [
            chunk[chosen[(chosen >= starts[position]) & (chosen < starts[position + 1])] - starts[position]]
            for position, chunk in enumerate(self.chunks)
        ]
        return np.concatenate(features), self.labels()[chosen]

    def rows_at(self, positions: np.ndarray) -> FeatureMatrix:
        """A copy of the rows at sorted `positions`, with their labels."""
        taken = FeatureMatrix(self.width, self.label_dtype)
        starts = np.cumsum([0] + [len(chunk) for chunk in self.chunks])
        labels = self.labels()
        for number, chunk in enumerate(self.chunks):
            inside = positions[(positions >= starts[number]) & (positions < starts[number + 1])]
            if len(inside):
                taken.chunks.append(chunk[inside - starts[number]])
                taken.label_chunks.append(labels[inside])
        return taken

    def clear(self) -> None:
        self.chunks.clear()
        self.label_chunks.clear()


def dataset_bytes(rows: int, features: int, outputs: int) -> float:
    """A lower bound of what LightGBM holds while boosting: one byte per binned value, gradients, hessians and
    scores per row and output, and its bagging indices."""
    return rows * (features + 8.0 * outputs * 3 + 8.0)


def parameters(settings: Mapping[str, Any], task: Task, classes: int, threads: int) -> dict[str, Any]:
    """lightgbm.train parameters: the task's objective and metric, the knobs, the seed, every CPU."""
    params: dict[str, Any] = {
        "objective": LIGHTGBM_OBJECTIVE[task],
        "metric": LIGHTGBM_METRIC[task],
        "seed": settings["random_state"],
        "num_threads": threads,
        # Histograms by feature while the Datasets are built; `histogram_layout` decides boosting's.
        "force_col_wise": True,
        "verbose": -1,
    }
    if task is Task.MULTICLASS:
        params["num_class"] = classes
    for name, lightgbm_name in LIGHTGBM_PARAMETER_NAMES.items():
        params[lightgbm_name] = settings[name]
    return params


def histogram_layout(data: lgb.Dataset, threads: int) -> dict[str, bool]:
    """How boosting on `data` builds its histograms: by rows when few threads share the work and it has few
    features holding few bins in all, as LightGBM's documentation recommends (`force_row_wise`); else by
    columns.

    Decided from the binned Dataset, so the same data always gets the same layout: LightGBM's own choice
    times both on the first round, and so can change from run to run. The measurements behind the bound are
    in docs/benchmarks.md ("LightGBM's histogram layout").
    """
    by_rows = (
        data.num_feature() <= ROW_LAYOUT_MAX_FEATURES
        and total_bins(data) <= ROW_LAYOUT_MAX_BINS
        and threads <= ROW_LAYOUT_MAX_THREADS
    )
    return {"force_row_wise": by_rows, "force_col_wise": not by_rows}


def row_layout_bytes(data: lgb.Dataset) -> float:
    """What the row layout holds besides the Dataset: each row's bins again, one or two bytes a value."""
    return data.num_data() * data.num_feature() * (1.0 if total_bins(data) <= 256 else 2.0)


def total_bins(data: lgb.Dataset) -> int:
    """The bins of a constructed Dataset's features, all added up."""
    return sum(data.feature_num_bin(index) for index in range(data.num_feature()))


def dataset(
    matrix: FeatureMatrix,
    params: Mapping[str, Any],
    feature_names: Sequence[str],
    categorical: Sequence[str],
    weights: np.ndarray | None = None,
    reference: lgb.Dataset | None = None,
    init_score: np.ndarray | None = None,
) -> lgb.Dataset:
    """A LightGBM Dataset binned from the matrix's chunks, which it then releases (the labels stay).

    The labels are set once the chunks are gone: LightGBM copies them to float32, and that copy then does not
    coincide with the features. `init_score`: the raw scores of the model training continues (`raw_scores`),
    for a ContinuedDataset.
    """
    kind = lgb.Dataset if init_score is None else ContinuedDataset
    data = kind(
        list(matrix.chunks),
        weight=weights,
        init_score=init_score,
        feature_name=list(feature_names),
        categorical_feature=list(categorical) if categorical else "auto",
        params=dict(params),
        reference=reference,
        free_raw_data=True,
    ).construct()
    matrix.chunks.clear()
    data.set_label(matrix.labels())
    # set_label keeps a numpy copy of what LightGBM now holds; get_label() reads it back if asked
    data.label = None
    return data


def rows_of(data: lgb.Dataset, positions: np.ndarray) -> lgb.Dataset:
    """A Dataset of the rows at `positions` of a constructed one, binned as it is: LightGBM copies their bins,
    labels, weights and init scores (`Dataset.subset`, kept a ContinuedDataset when `data` is one)."""
    kind = ContinuedDataset if isinstance(data, ContinuedDataset) else lgb.Dataset
    part = kind(
        None,
        reference=data,
        feature_name=data.feature_name,
        categorical_feature=data.categorical_feature,
        params=data.params,
        free_raw_data=True,
    )
    part.used_indices = np.sort(positions).astype(np.int32)  # type: ignore[assignment]
    return part.construct()


def rows_without(data: lgb.Dataset, positions: np.ndarray) -> lgb.Dataset:
    """A Dataset of every row of a constructed one but those at `positions`, binned as it is (`rows_of`)."""
    return rows_of(data, np.setdiff1d(np.arange(data.num_data()), positions))


def balanced_weights(
    settings: Mapping[str, Any], task: Task, labels: np.ndarray, classes: int
) -> np.ndarray | None:
    if settings["class_weight"] != "balanced" or task is Task.REGRESSION:
        return None
    return class_weights(labels, classes)


class RowScorer:
    """LightGBM's single-row fast path (its C API's `...SingleRowFast`): set up once, then a few microseconds
    a row, where `Booster.predict` spends most of a one-row call on setup. Same trees, same float32 input,
    same answers (a test holds them equal). One per process: it keeps state inside the booster."""

    def __init__(self, booster: lgb.Booster, features: int) -> None:
        self.booster = booster
        self.features = features
        self.outputs = booster.num_model_per_iteration()
        self._config = ctypes.c_void_p()
        lgb.basic._safe_call(
            lgb.basic._LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(0),  # C_API_PREDICT_NORMAL: probabilities or values, as predict() gives
                ctypes.c_int(0),
                ctypes.c_int(-1),
                ctypes.c_int(0),  # C_API_DTYPE_FLOAT32
                ctypes.c_int32(features),
                lgb.basic._c_str("num_threads=1"),
                ctypes.byref(self._config),
            )
        )
        self._length = ctypes.c_int64()

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Each row's output: shape (rows,) or (rows, classes), as `Booster.predict` gives."""
        rows = np.ascontiguousarray(rows, dtype=FEATURE_DTYPE)
        out = np.empty((len(rows), self.outputs), dtype=np.float64)
        for index in range(len(rows)):
            lgb.basic._safe_call(
                lgb.basic._LIB.LGBM_BoosterPredictForMatSingleRowFast(
                    self._config,
                    rows[index].ctypes.data_as(ctypes.c_void_p),
                    ctypes.byref(self._length),
                    out[index].ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                )
            )
        return out[:, 0] if self.outputs == 1 else out

    def __del__(self) -> None:
        if getattr(self, "_config", None) is not None and self._config.value:
            lgb.basic._LIB.LGBM_FastConfigFree(self._config)


def training_scores(booster: lgb.Booster) -> np.ndarray:
    """The model's output on its training rows, as LightGBM kept it while boosting (as `scores` gives it; a
    test holds them equal). The booster must still hold its training Dataset (lightgbm.train's
    keep_training_booster)."""
    rows, outputs = booster.train_set.num_data(), booster.num_model_per_iteration()
    out = np.empty(rows * outputs, dtype=np.float64)
    length = ctypes.c_int64()
    lgb.basic._safe_call(
        lgb.basic._LIB.LGBM_BoosterGetPredict(
            booster._handle,
            ctypes.c_int(0),  # the training Dataset
            ctypes.byref(length),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        )
    )
    return out if outputs == 1 else out.reshape(rows, outputs, order="F")


def without_datasets(booster: lgb.Booster) -> lgb.Booster:
    """The booster with its Datasets released, as lightgbm.train returns it by default."""
    booster.model_from_string(booster.model_to_string()).free_dataset()
    return booster


def scores(
    booster: lgb.Booster, features: np.ndarray, threads: int, iteration: int | None = None
) -> np.ndarray:
    """The model's output: P(positive class), class probabilities per row, or values."""
    if len(features) == 0:
        return np.empty(0)
    return np.asarray(booster.predict(features, num_iteration=iteration, num_threads=threads))


def raw_scores(booster: lgb.Booster, matrix: FeatureMatrix, threads: int) -> np.ndarray:
    """The booster's raw scores for the matrix's rows, chunk by chunk (one column per class if several)."""
    parts = [
        np.asarray(booster.predict(chunk, raw_score=True, num_threads=threads)) for chunk in matrix.chunks
    ]
    return np.concatenate(parts) if parts else np.empty(0)
