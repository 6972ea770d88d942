"""The SageMaker execution role: --role, SAGEMAKER_ROLE_ARN or get_execution_role(), checked as an ARN."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

from lightsage_deploy.errors import DeployError
from lightsage_deploy.project.project import Project
from lightsage_deploy.targets import target as settings

ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")


def validate_role_arn(arn: str, source: str) -> str:
    if not ROLE_ARN.fullmatch(arn):
        raise DeployError(
            f"{source} {arn!r} is not an IAM role ARN: "
            "expected arn:aws:iam::<12-digit account>:role/<path/>name"
        )
    return arn


def resolve_role(
    explicit: str | None,
    environ: Mapping[str, str] | None = None,
    execution_role: Callable[[], str] | None = None,
) -> str:
    """--role, then SAGEMAKER_ROLE_ARN, then sagemaker.get_execution_role() (works inside SageMaker)."""
    environ = os.environ if environ is None else environ
    if explicit:
        return validate_role_arn(explicit, "--role")
    if environ.get(settings.ROLE_VARIABLE):
        return validate_role_arn(environ[settings.ROLE_VARIABLE], settings.ROLE_VARIABLE)
    if execution_role is None:
        from sagemaker import get_execution_role

        execution_role = get_execution_role
    try:
        role = execution_role()
    except Exception as error:
        raise DeployError(
            "no SageMaker execution role: pass --role arn:aws:iam::ACCOUNT:role/NAME, or set "
            f"{settings.ROLE_VARIABLE}, or run where sagemaker.get_execution_role() works (a SageMaker "
            f"notebook or an assumed role); get_execution_role() said: {str(error).splitlines()[0]}"
        ) from None
    return validate_role_arn(role, "sagemaker.get_execution_role()")


def role_for(target: settings.DeployTarget, explicit: str | None, project: Project) -> str:
    """Local mode needs no real role: a dummy ARN unless one is given; real mode resolves one."""
    return project.local_role_arn if target.is_local and not explicit else resolve_role(explicit)
