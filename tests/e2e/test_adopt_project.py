"""A team's own project, outside the repository, with only the installed package: `byoc init` on a table of
its own, then `byoc build` and `byoc local` inside the project folder, as the README's adoption path says.

The package is the repository's wheel in a fresh virtualenv (tests/distsupport.py), so the image is built
from the build context the wheel ships. The build reuses the engine's layer cache: that context is byte for
byte the one the image under test (BYOC_IMAGE) was built from. The image gets its own tag, removed afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distsupport import Installed
from testsupport import REPOSITORY_ROOT, docker, free_port

pytestmark = pytest.mark.e2e
ROWS = 1200


def credit_table(rows: int = ROWS, seed: int = 11) -> pd.DataFrame:
    """Loan applications: numbers with gaps, text categories, and a good/bad `Status` that depends on them."""
    generator = np.random.default_rng(seed)
    age = generator.integers(19, 75, rows)
    income = generator.lognormal(10.5, 0.5, rows).round(-2)
    debt = (income * generator.uniform(0, 0.9, rows)).round(-2)
    home = generator.choice(["rent", "own", "mortgage", "parents"], rows, p=[0.4, 0.2, 0.3, 0.1])
    purpose = generator.choice(["car", "furniture", "education", "business", "holiday"], rows)
    risk = 2.5 * debt / income - 0.02 * (age - 40) + (home == "rent") * 0.6 - (home == "own") * 0.5
    status = np.where(risk + generator.normal(0, 0.45, rows) > 1.2, "bad", "good")
    frame = pd.DataFrame(
        {"Age": age, "Income": income, "Debt": debt, "Home": home, "Purpose": purpose, "Status": status}
    )
    frame.loc[generator.random(rows) < 0.05, "Income"] = np.nan
    return frame


def run_byoc(
    installed: Installed, *arguments: str, cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed.byoc), *arguments],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=installed.environment(),
    )  # fmt: skip


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-5000:]}"


def test_init_build_and_local_in_a_folder_of_its_own_train_serve_and_predict(
    installed_byoc: Installed, image: str, tmp_path: Path
) -> None:
    assert not tmp_path.is_relative_to(REPOSITORY_ROOT)
    credit_table().to_csv(tmp_path / "credit.csv", index=False)
    init = run_byoc(installed_byoc, "init", "proj", "--data", "credit.csv", "--target", "Status",
                    cwd=tmp_path, timeout=120)  # fmt: skip
    assert init.returncode == 0, shown(init)
    proj = tmp_path / "proj"
    assert sorted(path.name for path in proj.iterdir()) == ["byoc.toml"]

    tag = f"{image.rpartition('/')[2].partition(':')[0]}-byoc-build:e2e"
    try:
        build = run_byoc(installed_byoc, "build", "--tag", tag, cwd=proj, timeout=1800)
        assert build.returncode == 0, shown(build)
        assert f"image:   {tag}\n" in build.stdout
        assert (
            f"context: {installed_byoc.site_packages / 'lightsage_deploy' / 'build_context'}\n"
            in build.stdout
        )

        port = free_port()
        local = run_byoc(installed_byoc, "local", "--port", str(port), "--image", tag, cwd=proj, timeout=1800)
        assert local.returncode == 0, shown(local)
    finally:
        docker("image", "rm", tag, check=False)

    lines = local.stdout.splitlines()
    assert lines[0] == "predictions for the first 5 rows of credit.csv:"
    answers = json.loads(lines[1])["predictions"]
    assert len(answers) == 5 and {answer["label"] for answer in answers} <= {"good", "bad"}
    summary = re.fullmatch(
        r"validation \((\d+) rows, binary\): auc=(0\.\d{4}) accuracy=0\.\d{4} f1=0\.\d{4} log_loss=\d\.\d{4}",
        lines[2],
    )
    assert summary, local.stdout
    assert int(summary.group(1)) == ROWS // 5 and float(summary.group(2)) > 0.75
    assert lines[3] == f"model: {proj / '.byoc' / 'local' / 'model'}"
    assert (proj / ".byoc" / "local" / "model" / "model.txt").is_file()
    left = docker("ps", "--all", "--quiet", "--filter", "label=lightsage.local=proj").stdout
    assert left.strip() == "", "byoc local left a container behind"
