"""Where a step runs: AWS, or the offline stand-ins (local registry, moto S3, SDK local mode)."""
