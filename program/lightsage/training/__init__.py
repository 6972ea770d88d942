"""The `train` program: plan, recipe passes, features, boosting, checkpoints, warm start."""
