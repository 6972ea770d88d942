"""Everything that talks to AWS: ECR, S3, training, hosting, tuning, IAM, and their offline stand-ins."""

import os

# Estimator exists only in the SageMaker SDK v2, which this package pins on purpose (README, "SageMaker SDK
# v2"). Every v2 import and Estimator prints a notice that v2 is on a path of deprecation: the SDK's own
# switch turns off that notice, and nothing else, before any module here imports `sagemaker`. A value the
# caller set is kept (SAGEMAKER_SUPPRESS_V2_WARNING= brings the notice back).
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
