"""A dry run answers the SDK's Create* requests locally and refuses to send anything else."""

from __future__ import annotations

import boto3
import pytest

from lightsage_deploy.aws import dry_run
from lightsage_deploy.errors import DeployError


def test_the_dry_run_refuses_every_other_request(offline_aws: None) -> None:
    session = boto3.Session(region_name="us-east-1")
    with dry_run.capture(session) as captured:
        s3 = session.client("s3")
        with pytest.raises(DeployError, match="dry run: refused to send GET"):
            s3.list_buckets()
    assert captured == []
