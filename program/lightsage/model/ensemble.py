"""Several boosted models of one dataset as one LightGBM model: their average.

A gbdt model's raw output is the sum of its trees' leaf values, so the mean of k models' raw outputs is the
output of one model that holds all their trees, each leaf value divided by k. The result is an ordinary
LightGBM booster: it saves to one `model.txt`, predicts, explains (SHAP values average the same way) and
loads in any LightGBM, with nothing of ours needed to read it.

The trees are taken from LightGBM's own text of each model (its `tree_sizes` header gives each tree's
length), renumbered, scaled, and read back by LightGBM, which writes the tree sizes and feature importances
of the merged trees afresh whenever the model is saved.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightgbm as lgb

_TREE_SIZES = "tree_sizes="
_SCALED_KEYS = ("leaf_value", "internal_value")


def averaged(models: Sequence[tuple[lgb.Booster, int]]) -> lgb.Booster:
    """One booster whose raw output is the mean of the models' raw outputs, each model cut at its own number
    of rounds (0: all of them). The models must come from one dataset and one set of parameters, as the
    folds of one training job do: the same features, bins, task and outputs per round."""
    if not models:
        raise ValueError("no model to average")
    share = 1.0 / len(models)
    header, tail = "", ""
    trees: list[str] = []
    for booster, rounds in models:
        own_header, own_trees, own_tail = _parts(booster.model_to_string(num_iteration=rounds or None))
        if not header:
            header, tail = own_header, own_tail
        elif own_header != header:
            raise AssertionError("the models to average differ in their features or task: not one dataset")
        trees.extend(_scaled(tree, len(trees) + index, share) for index, tree in enumerate(own_trees))
    return lgb.Booster(model_str=header + "".join(trees) + tail)


def _parts(text: str) -> tuple[str, list[str], str]:
    """A model's text as its header (without the tree sizes), its trees' texts and what follows them."""
    start, end = text.find("Tree=0\n"), text.find("end of trees")
    if start < 0 or end < 0:
        raise AssertionError("a model with no tree cannot be averaged")
    head_lines = text[:start].split("\n")
    sizes_at = next((at for at, line in enumerate(head_lines) if line.startswith(_TREE_SIZES)), None)
    if sizes_at is None or "average_output" in head_lines:
        raise AssertionError("only gbdt models with LightGBM's tree sizes can be averaged")
    sizes = [int(size) for size in head_lines.pop(sizes_at)[len(_TREE_SIZES) :].split()]
    trees, at = [], start
    for size in sizes:
        trees.append(text[at : at + size])
        at += size
    if text[at:end].strip():
        raise AssertionError("the model's tree sizes do not cover its trees")
    return "\n".join(head_lines), trees, text[end:]


def _scaled(tree: str, index: int, share: float) -> str:
    """A tree's text as tree number `index`, its leaf (and inner node) values times `share`."""
    lines = tree.split("\n")
    for number, line in enumerate(lines):
        key, _, values = line.partition("=")
        if key == "Tree":
            lines[number] = f"Tree={index}"
        elif key in _SCALED_KEYS:
            lines[number] = f"{key}=" + " ".join(repr(float(value) * share) for value in values.split())
    return "\n".join(lines)
