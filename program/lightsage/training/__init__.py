"""The `train` program: `main` runs `plan` (recipe, task, columns, rows), `prepare` (a `job`: warm start, the
other hosts in `hosts/`, checkpoints), `fit` (the recipe's `passes`, boosting, cross-validation) and `report`
(metrics, the saved model); `memory` guards the container's limit and `signals` turns a stop into a reason."""
