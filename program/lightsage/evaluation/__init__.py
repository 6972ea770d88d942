"""The `evaluate` program and what it writes: `contract` (what the host side and the image agree on:
folders, files, the objective's JSON path), `inputs` (the model archive, tables), `metrics` (model-quality
statistics in Model Monitor's shape), `baseline` (the data baseline: statistics.json and constraints.json,
also written by `train`), `report` and `charts` (the HTML page), `job` and `main` (the program)."""
