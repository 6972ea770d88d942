"""Least-privilege IAM: the execution role, the operator policy, CloudFormation."""
