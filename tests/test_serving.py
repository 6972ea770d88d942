from pathlib import Path

from byoc.serving import gunicorn_command, render_nginx_config
from byoc.settings import ServingSettings


def test_nginx_config_carries_the_settings(tmp_path: Path) -> None:
    settings = ServingSettings.from_environment(
        {
            "SAGEMAKER_BIND_TO_PORT": "9090",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "90",
        }
    )
    config = render_nginx_config(settings, tmp_path, tmp_path / "gunicorn.sock")
    assert "listen 9090 " in config
    assert "client_max_body_size 20m;" in config
    assert "proxy_read_timeout 90s;" in config
    assert f"server unix:{tmp_path}/gunicorn.sock" in config
    assert 'return 413 \'{"error"' in config
    assert "$host" in config and "$$" not in config


def test_gunicorn_uses_the_same_timeout_and_worker_count(tmp_path: Path) -> None:
    settings = ServingSettings.from_environment({"SAGEMAKER_MODEL_SERVER_WORKERS": "3"})
    command = gunicorn_command(settings, tmp_path / "s.sock")
    assert command[command.index("--workers") + 1] == "3"
    assert command[command.index("--timeout") + 1] == "60"
    assert command[-1] == "byoc.api:create_app()"
