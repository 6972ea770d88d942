"""lightsage: train and serve LightGBM models on tabular data in one SageMaker bring-your-own container."""
