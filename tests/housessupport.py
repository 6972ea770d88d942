"""The README's example recipe (examples/houses) and a synthetic table of house prices it fits, shared by the
recipe framework tests and the container test that builds the example's image."""

import numpy as np
import pandas as pd

from testsupport import REPOSITORY_ROOT

EXAMPLE_DIR = REPOSITORY_ROOT / "examples" / "houses"
DISTRICT_PRICES = {"harbour": 5200.0, "old town": 7800.0, "hills": 4100.0, "riverside": 6100.0}


def houses_table(rows: int, seed: int) -> pd.DataFrame:
    """Prices that follow district x area, a few missing districts, and a column the recipe ignores."""
    rng = np.random.default_rng(seed)
    district = rng.choice(list(DISTRICT_PRICES), rows).astype(object)
    rooms = rng.integers(1, 7, rows)
    area = (rooms * rng.uniform(18, 32, rows) + rng.uniform(0, 15, rows)).round(1)
    per_m2 = np.array([DISTRICT_PRICES[name] for name in district]) * rng.lognormal(0, 0.08, rows)
    district[rng.random(rows) < 0.05] = None
    return pd.DataFrame(
        {
            "listing": [f"https://example.com/listing/{seed}-{row}" for row in range(rows)],
            "district": district,
            "rooms": rooms,
            "area": area,
            "price": (per_m2 * area).round(0),
        }
    )


def channels(train_rows: pd.DataFrame, validation_rows: pd.DataFrame) -> dict[str, list[tuple[str, bytes]]]:
    return {
        "train": [("train.csv", train_rows.to_csv(index=False).encode())],
        "validation": [("validation.csv", validation_rows.to_csv(index=False).encode())],
    }
