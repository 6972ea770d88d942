"""What serving needs to know about a booster's trees, read from its model.txt (LightGBM's text format):
whether compiled trees (lightsage.serving.compiled) may answer for it, and the probe rows that check them.

Compiled trees are exact for the splits LightGBM's gbdt grows for the framework's objectives. They are not
for a few others, which the text shows, so those models stay on LightGBM:
- linear trees (`is_linear=1`): the compiler ignores the leaves' linear models and answers wrongly;
- zero-as-missing splits (missing type 1 in `decision_type`): LightGBM reads |x| <= 1e-35 as zero, the
  compiled code only an exact 0;
- objectives other than binary, multiclass and regression, and averaged outputs (random forests): not
  checked here, so not compiled;
- a model of no trees, or of so many leaves that compiling it would take minutes and gigabytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from lightsage.errors import UserError

COMPILED_OBJECTIVES = ("binary", "multiclass", "regression")
# Beyond this many leaves a compile takes minutes and gigabytes (1,000 trees of 255 leaves: about 100 s and
# 2.5 GB without inlining): such a model keeps LightGBM.
MAX_COMPILED_LEAVES = 100_000
# Up to this many leaves the compiler inlines each tree into the forest (faster trees, slower compile: about
# 1 s for 1,200 leaves, 5 s for 3,100); above it, it does not (4x to 5x quicker to compile).
MAX_INLINED_LEAVES = 4_000
MISSING_TYPE_ZERO = 1
CATEGORICAL_MASK = 1
# Probe rows: every probe value in its column at least once, in random combinations across columns.
MIN_PROBE_ROWS = 256
MAX_PROBE_ROWS = 4096
# Probe values for every feature besides its own split points: missing, zeros, tiny and huge numbers.
SPECIAL_VALUES = (
    np.nan, 0.0, -0.0, 1e-40, -1e-40, 1e-35, -1e-35, 1e-30, -1e-30, 0.5, -0.5, 1.0, -1.0, 2.0, 1e30, -1e30,
    float(np.finfo(np.float32).max), -float(np.finfo(np.float32).max),
)  # fmt: skip
# Category codes a request may hold that training never saw: negative, fractional, unseen, beyond int32.
SPECIAL_CATEGORIES = (-1.0, -0.5, -5.0, 0.5, 2.7, 31.0, 32.0, 64.0, 1000.0, 2.0**31, 1e10)


class ForestTextError(UserError, ValueError):
    """model.txt is not LightGBM's text format as this module reads it."""


@dataclass(frozen=True)
class Forest:
    """The facts of a model.txt that decide whether compiled trees may answer, and where they split."""

    objective: str
    outputs: int
    features: int
    trees: int
    leaves: int
    averaged: bool
    linear: bool
    zero_as_missing: bool
    thresholds: dict[int, np.ndarray] = field(default_factory=dict)
    categories: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str) -> Forest:
        header: dict[str, str] = {}
        lines = iter(text.splitlines())
        has_trees = False
        for line in lines:
            if line.startswith("Tree="):
                has_trees = True
                break
            key, _, value = line.partition("=")
            header[key] = value
        try:
            objective = header["objective"].split(" ", 1)[0]
            outputs = int(header["num_tree_per_iteration"])
            features = int(header["max_feature_idx"]) + 1
        except (KeyError, ValueError) as error:
            raise ForestTextError(f"model.txt has no readable header ({error})") from None
        trees = leaves = 0
        linear = zero_as_missing = False
        thresholds: dict[int, list[float]] = defaultdict(list)
        categories: dict[int, set[int]] = defaultdict(set)
        for tree in _trees(lines) if has_trees else ():
            trees += 1
            leaves += int(tree.get("num_leaves", "1"))
            linear = linear or tree.get("is_linear", "0") == "1"
            split_features = _numbers(tree.get("split_feature", ""), int)
            decisions = _numbers(tree.get("decision_type", ""), int)
            values = tree.get("threshold", "").split()
            boundaries = _numbers(tree.get("cat_boundaries", ""), int)
            bitsets = _numbers(tree.get("cat_threshold", ""), int)
            if not len(split_features) == len(decisions) == len(values):
                raise ForestTextError(f"tree {trees - 1} of model.txt lists splits of different lengths")
            for feature, decision, value in zip(split_features, decisions, values, strict=True):
                if decision & CATEGORICAL_MASK:
                    index = int(float(value))
                    words = bitsets[boundaries[index] : boundaries[index + 1]]
                    categories[feature].update(_bits(words))
                else:
                    zero_as_missing = zero_as_missing or (decision >> 2) & 3 == MISSING_TYPE_ZERO
                    thresholds[feature].append(float(value))
        return cls(
            objective=objective,
            outputs=outputs,
            features=features,
            trees=trees,
            leaves=leaves,
            averaged="average_output" in header,
            linear=linear,
            zero_as_missing=zero_as_missing,
            thresholds={feature: np.unique(np.array(found)) for feature, found in thresholds.items()},
            categories={
                feature: np.array(sorted(codes), dtype=float) for feature, codes in categories.items()
            },
        )

    def refusal(self) -> str | None:
        """Why compiled trees must not answer for this model (None when they may)."""
        if self.objective not in COMPILED_OBJECTIVES:
            return f"its objective {self.objective!r} is not one of {', '.join(COMPILED_OBJECTIVES)}"
        if self.averaged:
            return "it averages its trees' outputs (a random forest)"
        if self.linear:
            return "it has linear trees (linear_tree), which compiled trees would answer wrongly"
        if self.zero_as_missing:
            return "it reads zero as missing (zero_as_missing), which compiled trees would answer wrongly"
        if self.trees == 0:
            return "it has no trees"
        if self.leaves > MAX_COMPILED_LEAVES:
            return (
                f"it has {self.leaves:,} leaves, more than the {MAX_COMPILED_LEAVES:,} that compile within "
                "minutes"
            )
        return None

    @property
    def inlined(self) -> bool:
        return self.leaves <= MAX_INLINED_LEAVES

    def probe_rows(self, limit: int = MAX_PROBE_ROWS, seed: int = 0) -> np.ndarray:
        """float32 rows (requests' features are float32) that reach both sides of every split: each numeric
        threshold and its float32 neighbours, each category a split names and codes none does, and the
        special values, every one in its column at least once (up to `limit` rows; beyond, a random
        sample), in random combinations across columns."""
        generator = np.random.default_rng(seed)
        columns = [self._probe_values(feature) for feature in range(self.features)]
        rows = min(limit, max([MIN_PROBE_ROWS, *(len(values) for values in columns)]))
        probes = np.empty((rows, self.features), dtype=np.float32)
        for feature, values in enumerate(columns):
            if len(values) >= rows:
                probes[:, feature] = generator.choice(values, size=rows, replace=False)
            else:
                rounds = [generator.permutation(values) for _ in range(-(-rows // len(values)))]
                probes[:, feature] = np.concatenate(rounds)[:rows]
        return probes

    def _probe_values(self, feature: int) -> np.ndarray:
        values = [np.array(SPECIAL_VALUES, dtype=np.float32)]
        thresholds = self.thresholds.get(feature)
        if thresholds is not None:
            near = thresholds[np.abs(thresholds) <= np.finfo(np.float32).max].astype(np.float32)
            values += [near, np.nextafter(near, np.float32(np.inf)), np.nextafter(near, np.float32(-np.inf))]
        codes = self.categories.get(feature)
        if codes is not None:
            values += [codes.astype(np.float32), np.array(SPECIAL_CATEGORIES, dtype=np.float32)]
            if len(codes):
                values.append(np.array([codes.max() + 1.0, codes.max() + 0.5], dtype=np.float32))
        return np.unique(np.concatenate(values))


def _trees(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Each tree block's `key=value` lines, up to `end of trees` (the caller consumed the first `Tree=`
    line)."""
    tree: dict[str, str] = {}
    for line in lines:
        if line.startswith("Tree=") or line == "end of trees":
            yield tree
            tree = {}
            if line == "end of trees":
                return
            continue
        key, separator, value = line.partition("=")
        if separator:
            tree[key] = value
    yield tree


def _numbers(text: str, kind: type) -> list:
    try:
        return [kind(value) for value in text.split()]
    except ValueError as error:
        raise ForestTextError(f"model.txt holds a value that is not a number ({error})") from None


def _bits(words: list[int]) -> Iterator[int]:
    for position, word in enumerate(words):
        for bit in range(32):
            if word >> bit & 1:
                yield 32 * position + bit
