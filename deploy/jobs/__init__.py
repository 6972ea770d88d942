"""What the steps' jobs are made of: hyperparameters, the task and its metrics, the channels' files, rows."""
