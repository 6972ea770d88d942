"""The AWS pieces the steps share: S3, ECR, dry-run requests, and progress of the long waits."""
