"""Shared AWS pieces: S3, progress output, dry-run requests."""
