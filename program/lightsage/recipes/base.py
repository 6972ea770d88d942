"""The recipe seam: what a model-specific module declares, and how `train` and `serve` find it.

A recipe is one module holding one `Recipe` subclass: built into the image (a module of the `recipes`
package, `program/lightsage/recipes/NAME.py`), or shipped with the job in script mode
(`lightsage.recipes.script`). It declares its name and version, its input columns (or infers them from the
data), its hyperparameters and changed LightGBM defaults, what it learns from training rows (as JSON,
mergeable across batches and hosts) and its feature step: one vectorised `transform` for training, batches
and single rows, plus an optional scalar `transform_row` that property tests hold to the same answers. The
core never imports a recipe by name: the `recipe` hyperparameter, or the image's BYOC_DEFAULT_RECIPE, names
it, unless the job ships its own module (script mode), which is then the recipe.

`train` calls `summarise` and `transform` on two batches at once when it has two CPUs, after a first batch
alone: they read the recipe and return new values, and never change the recipe.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import pkgutil
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from lightsage.contract import hyperparameters as hp
from lightsage.data.profile import TableProfile
from lightsage.data.schema import Column, InputSchema
from lightsage.errors import UserError
from lightsage.tasks import Task

DEFAULT_RECIPE_VARIABLE = "BYOC_DEFAULT_RECIPE"
RECIPES_PACKAGE = "lightsage.recipes"
# The modules of the recipes package that are not recipes: this seam, and script mode's loader.
NOT_RECIPES = ("base", "script")
_RECIPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
IMAGE: Literal["image"] = "image"
SCRIPT: Literal["script"] = "script"

State = dict[str, Any]


class RecipeError(UserError, ValueError):
    """A recipe cannot be found, or the data does not fit it; the message says what to change."""


class Recipe:
    """Subclass this in `program/lightsage/recipes/NAME.py`. See `recipes/tabular.py` and
    `recipes/titanic.py`."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    # The columns the recipe reads; None means every column of the table (the recipe's select_inputs decides).
    input_columns: ClassVar[tuple[Column, ...] | None] = None
    # The input columns `summarise` reads (None: every feature column); the learning pass types only these.
    learned_from: ClassVar[tuple[str, ...] | None] = None
    # The target column when the `target` hyperparameter is not given; None makes `target` required.
    default_target: ClassVar[str | None] = None
    tasks: ClassVar[tuple[Task, ...]] = (Task.BINARY, Task.MULTICLASS, Task.REGRESSION)
    own_hyperparameters: ClassVar[tuple[hp.Hyperparameter, ...]] = ()
    changed_defaults: ClassVar[Mapping[str, Any]] = {}
    changed_tuning: ClassVar[Mapping[str, hp.TuningRange | None]] = {}
    # An optional fast path for one row: `transform_row(record) -> list[float]` on typed scalar values.
    transform_row: Callable[[Mapping[str, Any]], Sequence[float]] | None = None

    def __init__(self, settings: Mapping[str, Any], schema: InputSchema, state: State | None = None) -> None:
        self.settings = settings
        self.schema = schema
        self.state: State = state if state is not None else {}

    # -- hyperparameters and columns ---------------------------------------------------------------------

    @classmethod
    def hyperparameter_specs(cls) -> tuple[hp.Hyperparameter, ...]:
        defaults = {"recipe": cls.name, **cls.changed_defaults}
        if cls.default_target:
            defaults["target"] = cls.default_target
        core = hp.with_changes((*hp.CORE, *hp.LIGHTGBM), defaults, cls.changed_tuning)
        return (*core, *cls.own_hyperparameters)

    @classmethod
    def check_columns(cls, names: Sequence[str]) -> None:
        """RecipeError naming the declared columns a table lacks; `train` checks this before the target."""
        missing = [column.name for column in cls.input_columns or () if column.name not in names]
        if missing:
            raise RecipeError(
                f"the data lacks column(s) recipe '{cls.name}' needs: {', '.join(missing)}; for any table, "
                f"use the hyperparameter recipe=tabular (the table has: {', '.join(names)})"
            )

    @classmethod
    def profiled_columns(cls, names: Sequence[str]) -> list[str] | None:
        """The columns whose contents `select_inputs` needs to see (None: all). Declared columns need none."""
        return None if cls.input_columns is None else []

    @classmethod
    def select_inputs(cls, profile: TableProfile, target: str, settings: Mapping[str, Any]) -> InputSchema:
        """The model's input columns in file order: the declared ones as features, every other as ignored."""
        cls.check_columns(profile.names)
        declared = {column.name: column for column in cls.input_columns or ()}
        columns = []
        for name in profile.names:
            if name == target:
                continue
            if name in declared:
                columns.append(declared[name])
            else:
                observed = profile.columns[name]
                kind = "number" if observed.observed and observed.numeric else "string"
                columns.append(Column(name, kind, role="ignored"))
        return InputSchema(tuple(columns))

    # -- learning: optional; summaries are JSON, merged across batches and hosts ------------------------

    def summarise(self, frame: pd.DataFrame, labels: np.ndarray) -> State:
        """What one batch of training rows teaches (labels: class codes or values, aligned with frame).

        May run on several batches at once: it must not change the recipe.
        """
        return {}

    def combine(self, summaries: Sequence[State]) -> State:
        """One summary from several (associative: batches and hosts are combined in any grouping)."""
        return {}

    def learn(self, summary: State) -> State:
        """The state saved with the model, from the combined summary of every training row."""
        return summary

    # -- a saved state, checked when a model folder is loaded -----------------------------------------------

    def check_state(self) -> None:
        """Raise ValueError naming what is wrong when `state`, read from a model folder, is not one `learn`
        makes: a table or entry missing, a column of the wrong type, a repeated key.

        `serve` and warm start call it once, at load, before any row is transformed (the default checks
        nothing); a probe of typical rows through `transform` and `transform_row` follows it.
        """

    def probe_values(self) -> Mapping[str, Sequence[Any]]:
        """Typical values of some input columns, taken from the state, for the load check's probe rows: a
        value of each category table, a key of each group table. Closed vocabularies are probed anyway."""
        return {}

    # -- the feature step ---------------------------------------------------------------------------------

    def feature_names(self) -> tuple[str, ...]:
        return self.schema.feature_names

    def categorical_features(self) -> tuple[str, ...]:
        """Features LightGBM treats as categories (non-negative integer codes; NaN or negative is missing)."""
        return ()

    def transform(self, frame: pd.DataFrame, labels: np.ndarray | None = None) -> np.ndarray:
        """Features of typed rows (numbers as float64 with NaN, text as str or NaN), shape (rows, features).

        `labels` are the rows' own labels when transforming training rows, else None. May run on several
        batches at once (after a first batch alone, which may build lookups): it must not change the recipe.
        """
        raise NotImplementedError


# -- where a recipe's code comes from ------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RecipeSource:
    """Where a recipe's code came from, as the model's manifest records it: built into the image, or shipped
    in script mode; the module's file name (script mode: its path in the submit directory); and the sha256
    of each file the recipe is made of: the module, and the requirements.txt beside it in script mode."""

    origin: Literal["image", "script"]
    program: str
    files: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "program": self.program, "files": dict(self.files)}

    @classmethod
    def from_json(cls, raw: Any) -> RecipeSource:
        """ValueError naming the entry that is not one `to_json` writes."""
        if not isinstance(raw, dict):
            raise ValueError("the recipe's 'source' must be a JSON object")
        origin, program, files = raw.get("origin"), raw.get("program"), raw.get("files")
        if origin not in (IMAGE, SCRIPT):
            raise ValueError(f"the recipe's source origin {origin!r} is not '{IMAGE}' or '{SCRIPT}'")
        if not isinstance(program, str) or not program:
            raise ValueError("the recipe's source must name its program (the module's file)")
        if not isinstance(files, dict) or not files:
            raise ValueError("the recipe's source must give the sha256 of its files")
        for name, digest in files.items():
            if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
                raise ValueError(
                    f"the recipe's source gives {name} the digest {digest!r}, not 'sha256:' and 64 hex digits"
                )
        return cls(origin, program, dict(files))

    def differences(self, other: RecipeSource) -> list[str]:
        """Each file whose digest differs between the two sources, or that only one of them has."""
        names = sorted(set(self.files) | set(other.files))
        return [name for name in names if self.files.get(name) != other.files.get(name)]


def image_source(recipe: type[Recipe]) -> RecipeSource:
    """The source of a recipe built into the image: its module file and that file's digest."""
    path = Path(inspect.getfile(recipe))
    return RecipeSource(IMAGE, path.name, {path.name: sha256(path.read_bytes())})


def check_name(name: Any, where: str) -> str:
    """A recipe's declared name, RecipeError naming `where` when it cannot be one."""
    if not isinstance(name, str) or not _RECIPE_NAME.fullmatch(name):
        raise RecipeError(
            f"{where}: the recipe's name {name!r} is not a recipe name (lower-case letters, digits and _, "
            "starting with a letter)"
        )
    return name


# -- finding recipes --------------------------------------------------------------------------------------


def available_recipes() -> list[str]:
    package = importlib.import_module(RECIPES_PACKAGE)
    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and info.name not in NOT_RECIPES
    )


def load_recipe(name: str) -> type[Recipe]:
    """The Recipe subclass of `recipes/NAME.py`; only modules inside the recipes package can be named."""
    if not _RECIPE_NAME.fullmatch(name):
        raise RecipeError(f"recipe {name!r} is not a recipe name (lower-case letters, digits and _)")
    known = available_recipes()
    if name not in known:
        raise RecipeError(f"unknown recipe {name!r}; available: {', '.join(known)} (modules in recipes/)")
    module = importlib.import_module(f"{RECIPES_PACKAGE}.{name}")
    return _recipe_class(module, name)


def recipe_classes(module: ModuleType) -> list[type[Recipe]]:
    """The Recipe subclasses a module defines itself (not those it imports)."""
    return [
        member
        for member in vars(module).values()
        if inspect.isclass(member) and issubclass(member, Recipe) and member.__module__ == module.__name__
    ]


def _recipe_class(module: ModuleType, name: str) -> type[Recipe]:
    found = recipe_classes(module)
    if len(found) != 1 or getattr(found[0], "name", None) != name:
        raise RecipeError(f"recipes/{name}.py must define exactly one Recipe subclass with name = {name!r}")
    return found[0]


def default_recipe_name(environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    return environ.get(DEFAULT_RECIPE_VARIABLE, "").strip() or None


def recipe_for(
    raw: Mapping[str, Any], environ: Mapping[str, str] | None = None, script: type[Recipe] | None = None
) -> type[Recipe]:
    """The recipe the `recipe` hyperparameter names, else the image's default (BYOC_DEFAULT_RECIPE).

    `script`: the recipe the job ships in script mode (`lightsage.recipes.script`), which is the job's recipe;
    a `recipe` hyperparameter must then name it.
    """
    requested = raw.get("recipe")
    named = hp.parse_value(hp.CORE[0], requested) if requested is not None else None
    if script is not None:
        if named is not None and named != script.name:
            raise hp.HyperparameterError(
                f"hyperparameter 'recipe' is {named!r}, but the script-mode module "
                f"{Path(inspect.getfile(script)).name} defines recipe {script.name!r}: set recipe="
                f"{script.name}, or leave the hyperparameter out"
            )
        return script
    if named is not None:
        name = named
    else:
        name = default_recipe_name(environ)
        if name is None:
            raise hp.HyperparameterError(
                f"no recipe: set the hyperparameter 'recipe' (available: {', '.join(available_recipes())}) "
                f"or the image's {DEFAULT_RECIPE_VARIABLE}"
            )
    try:
        return load_recipe(name)
    except RecipeError as error:
        raise hp.HyperparameterError(f"hyperparameter 'recipe': {error}") from None


def resolve(
    raw: Mapping[str, Any], environ: Mapping[str, str] | None = None, script: type[Recipe] | None = None
) -> tuple[type[Recipe], dict[str, Any]]:
    """The selected recipe (`script`: the one the job ships) and every hyperparameter, typed and checked
    against the recipe's declarations."""
    recipe = recipe_for(raw, environ, script)
    return recipe, hp.parse_hyperparameters(raw, recipe.hyperparameter_specs())


def _shown(value: Any) -> str:
    if value is hp.REQUIRED:
        return "required"
    if isinstance(value, tuple):
        return ", ".join(value) or "(none)"
    return f"`{value}`"


def _tuning(spec: hp.Hyperparameter) -> str:
    if spec.tuning is None:
        return ""
    scale = "" if spec.tuning.scaling == "Auto" else f", {spec.tuning.scaling.lower()}"
    return f"{spec.tuning.low:g} to {spec.tuning.high:g}{scale}"


def hyperparameter_table(names: Sequence[str]) -> str:
    """Every hyperparameter of the named recipes as a Markdown table: type, each recipe's default, the valid
    range and the tuning range (`python -m lightsage.recipes.base titanic tabular` prints it)."""
    recipes = [load_recipe(name) for name in names]
    specs = {recipe.name: {spec.name: spec for spec in recipe.hyperparameter_specs()} for recipe in recipes}
    ordered = list(dict.fromkeys(name for recipe in recipes for name in specs[recipe.name]))
    header = [
        "name",
        "type",
        *(f"{recipe.name} default" for recipe in recipes),
        "valid",
        "tuning range",
        "meaning",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in ordered:
        first = next(specs[recipe.name][name] for recipe in recipes if name in specs[recipe.name])
        kind = "column names" if first.kind is hp.NAMES else first.kind.__name__
        valid = " / ".join(first.choices) if first.choices else first.requirement
        defaults = [
            _shown(specs[recipe.name][name].default) if name in specs[recipe.name] else "-"
            for recipe in recipes
        ]
        lines.append(
            "| " + " | ".join([f"`{name}`", kind, *defaults, valid, _tuning(first), first.description]) + " |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    # Run as a script this file is `__main__`; the recipes subclass the importable
    # `lightsage.recipes.base.Recipe`.
    from lightsage import logs
    from lightsage.recipes import base as recipe

    logs.configure("recipes")
    print(recipe.hyperparameter_table(sys.argv[1:] or recipe.available_recipes()))
