"""The `serve` program: `server` runs nginx -> gunicorn -> Flask (`app`); an invocation is negotiated
(`negotiate`), decoded (`decode`), predicted (`predictor`) and encoded (`encode`); `settings` and `readiness`
read the environment and say when every worker has its model."""
