"""The `serve` program: nginx -> gunicorn -> Flask, decoding, predicting, encoding."""
