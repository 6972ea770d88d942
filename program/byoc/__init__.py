"""Train and serve a Titanic-survival LightGBM model inside one SageMaker bring-your-own container."""
