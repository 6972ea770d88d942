"""The model artifact: manifest, LightGBM booster and recipe state, saved and loaded as data."""
