"""The `evaluate` and `drift` Processing jobs of the image: what they read and write (`contract`)."""
