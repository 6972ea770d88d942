"""The SageMaker contract: the /opt/ml layout, config files, hyperparameters, the failure file."""
