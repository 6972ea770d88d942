"""lightsage: train and serve LightGBM models on tabular data in one SageMaker bring-your-own container.

Parts, bottom to top (each imports only from the parts below it; tests/lightsage/test_layout.py holds them):
`errors` (who is to blame), `logs` (how the programs write log lines) -> `tasks` -> `contract` (the SageMaker
contract) -> `data` (reading tables) -> `recipes` -> `model` (the artifact) -> `training` (the `train`
program, with `hosts/` for several instances) and `serving` (the `serve` program).
"""
