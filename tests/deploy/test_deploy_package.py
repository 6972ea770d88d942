"""The package itself: importing lightsage_deploy keeps the SageMaker SDK v2's deprecation notice out (unless
asked for) and every other warning in."""

from __future__ import annotations

import subprocess
import sys

import pytest

from testsupport import REPOSITORY_ROOT

V2_NOTICE = "SageMaker Python SDK v2, which is on path of deprecation"
IMPORT_DEPLOY_THEN_THE_SDK = """
import warnings
import lightsage_deploy
from sagemaker.estimator import Estimator
role = "arn:aws:iam::111111111111:role/r"
Estimator(image_uri="img", role=role, instance_count=1, instance_type="ml.m5.large")
warnings.warn("another FutureWarning", FutureWarning)
"""


@pytest.mark.parametrize(("setting", "notice_shown"), [(None, False), ("", True)])
def test_the_sdk_v2_notice_stays_out_unless_asked_for_and_other_warnings_still_show(
    offline_aws: None, monkeypatch: pytest.MonkeyPatch, setting: str | None, notice_shown: bool
) -> None:
    if setting is None:
        monkeypatch.delenv("SAGEMAKER_SUPPRESS_V2_WARNING", raising=False)
    else:
        monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", setting)
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_DEPLOY_THEN_THE_SDK],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPOSITORY_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert (V2_NOTICE in result.stderr) is notice_shown, result.stderr
    assert "FutureWarning: another FutureWarning" in result.stderr
