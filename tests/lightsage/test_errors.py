"""lightsage.errors: every error the core defines says who is to blame, and the failure reason follows."""

import importlib
import inspect
import pkgutil

import pytest

import lightsage
from lightsage.contract.paths import FAILURE_REASON_LIMIT_BYTES
from lightsage.errors import LightsageError, PlatformError, UserError, failure_reason, is_bug

# Who is to blame for each error class of the core. A new class fails the test below until it is placed here.
BLAME = {
    "lightsage.contract.folders.UnsafeFile": UserError,
    "lightsage.contract.hyperparameters.HyperparameterError": UserError,
    "lightsage.contract.paths.ContractError": PlatformError,
    "lightsage.data.channels.DataError": UserError,
    "lightsage.data.schema.ColumnValueError": UserError,
    "lightsage.data.values.BadValue": UserError,
    "lightsage.contract.processing.ProcessingStopped": PlatformError,
    "lightsage.evaluation.baseline.BaselineError": UserError,
    "lightsage.evaluation.job.ArgumentError": UserError,
    "lightsage.evaluation.metrics.EvaluationError": UserError,
    "lightsage.monitoring.traffic.TrafficError": UserError,
    "lightsage.model.artifact.ModelFormatError": UserError,
    "lightsage.model.artifact.ModelLoadError": UserError,
    "lightsage.recipes.base.RecipeError": UserError,
    "lightsage.recipes.script.ScriptError": UserError,
    "lightsage.recipes.script.SourceUnavailable": PlatformError,
    "lightsage.serving.compiled.CacheError": PlatformError,
    "lightsage.serving.forest.ForestTextError": UserError,
    "lightsage.serving.negotiate.PayloadError": UserError,
    "lightsage.serving.settings.SettingsError": UserError,
    "lightsage.tasks.TargetError": UserError,
    "lightsage.training.checkpoints.CheckpointError": UserError,
    "lightsage.training.hosts.cluster.ClusterError": PlatformError,
    "lightsage.training.memory.OutOfMemory": PlatformError,
    "lightsage.training.signals.TrainingInterrupted": PlatformError,
    "lightsage.training.warm_start.WarmStartError": UserError,
}
# Code catches these as the built-in errors they were before the taxonomy.
VALUE_ERRORS = (
    "HyperparameterError", "DataError", "ColumnValueError", "BadValue", "ModelFormatError", "RecipeError",
    "ScriptError", "SettingsError", "TargetError", "CheckpointError", "WarmStartError", "BaselineError",
    "EvaluationError",
)  # fmt: skip
SECOND_BASES = {
    "lightsage.contract.folders.UnsafeFile": OSError,
    "lightsage.serving.compiled.CacheError": OSError,
    "lightsage.serving.forest.ForestTextError": ValueError,
    **{name: ValueError for name in BLAME if name.rsplit(".", 1)[1] in VALUE_ERRORS},
}


def defined_errors() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the core, by its full name."""
    found = {}
    for module_info in pkgutil.walk_packages(lightsage.__path__, "lightsage."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_error_of_the_core_is_a_user_error_or_a_platform_fault() -> None:
    errors = {
        name: error for name, error in defined_errors().items() if not name.startswith("lightsage.errors.")
    }
    assert sorted(errors) == sorted(BLAME)
    for name, error in errors.items():
        assert issubclass(error, BLAME[name]), name
        assert issubclass(error, UserError) != issubclass(error, PlatformError), name
        if name in SECOND_BASES:
            assert issubclass(error, SECOND_BASES[name]), name


def test_an_explained_error_is_its_own_reason() -> None:
    for error in (
        UserError("column 'Age': 'old' is not a number"),
        PlatformError("host 'algo-2' left the job"),
    ):
        assert not is_bug(error)
        assert failure_reason(error) == str(error)


@pytest.mark.parametrize("message", ["division by zero", "x" * 5000])
def test_any_other_error_is_a_bug_to_report_within_the_failure_file(message: str) -> None:
    error = ZeroDivisionError(message)
    assert is_bug(error) and is_bug(LookupError()) and not is_bug(LightsageError("explained"))
    reason = failure_reason(error)
    assert reason.startswith(f"unexpected error: ZeroDivisionError: {message[:100]}")
    assert reason.endswith("(a bug in lightsage or in the recipe's code, not in the input: please report it "
                           "with the traceback from the job's log)")  # fmt: skip
    assert len(reason.encode()) <= FAILURE_REASON_LIMIT_BYTES


def test_a_user_error_answers_400_unless_it_says_otherwise_and_a_platform_fault_503() -> None:
    assert UserError("bad").status == 400 and UserError("bad").body() == {"error": "bad"}
    assert PlatformError("stopped").status == 503
