import re
from pathlib import Path

from lightsage.serving.server import gunicorn_command, render_nginx_config
from lightsage.serving.settings import ServingSettings

# Every 4xx/5xx status nginx can answer by itself (ngx_http_special_response.c, without the TLS-only 495-497).
NGINX_GENERATED_STATUSES = {
    *(400, 401, 402, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 421, 429, 494),
    *(500, 501, 502, 503, 504, 505, 507),
}


def rendered(tmp_path: Path, environ: dict[str, str] | None = None) -> str:
    settings = ServingSettings.from_environment(environ or {})
    return render_nginx_config(settings, tmp_path, tmp_path / "gunicorn.sock", tmp_path / "ready")


def test_nginx_config_carries_the_settings(tmp_path: Path) -> None:
    config = rendered(
        tmp_path,
        {
            "SAGEMAKER_BIND_TO_PORT": "9090",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "90",
        },
    )
    assert "listen 9090 " in config
    assert "client_max_body_size 20m;" in config
    assert "proxy_read_timeout 90s;" in config
    assert f"server unix:{tmp_path}/gunicorn.sock" in config
    assert f"if (!-f {tmp_path}/ready)" in config
    assert '413 "request body is larger than the 20 MB limit' in config
    assert '504 "prediction took longer than 90 s' in config
    assert "$uri" in config and "$$" not in config


def error_pages(config: str) -> dict[int, tuple[int, str]]:
    """status -> (status sent, target) for every error_page directive."""
    pages = {}
    for line in config.splitlines():
        words = line.strip().rstrip(";").split()
        if words[:1] == ["error_page"]:
            target = words[-1]
            sent = [int(word[1:]) for word in words[1:-1] if word.startswith("=")]
            for word in words[1:-1]:
                if word.isdigit():
                    pages[int(word)] = (sent[0] if sent else int(word), target)
    return pages


def test_every_status_nginx_answers_itself_has_a_json_page(tmp_path: Path) -> None:
    config = rendered(tmp_path)
    pages = error_pages(config)
    assert set(pages) >= NGINX_GENERATED_STATUSES
    messages = {int(code) for code in re.findall(r'^\s+(\d{3}) "', config, flags=re.MULTILINE)}
    for status, (sent, target) in pages.items():
        if target == "@not_allowed":
            assert status == 405
        else:
            assert target == "/.byoc-error", status
            assert sent in messages, f"no JSON message for {status} (sent as {sent})"
    assert pages[502] == (503, "/.byoc-error")  # a worker that died mid-request means "not ready", retry
    assert pages[494] == (431, "/.byoc-error")
    assert "location = /.byoc-error {\n      internal;" in config


def test_error_messages_are_json_safe(tmp_path: Path) -> None:
    config = rendered(tmp_path)
    for message in re.findall(r'^\s+(?:\d{3}|default) "(.*)";$', config, flags=re.MULTILINE):
        assert '"' not in message and "\\" not in message, message


def test_gunicorn_uses_the_same_timeout_and_worker_count(tmp_path: Path) -> None:
    settings = ServingSettings.from_environment({"SAGEMAKER_MODEL_SERVER_WORKERS": "3"})
    command = gunicorn_command(settings, tmp_path / "s.sock")
    assert command[command.index("--workers") + 1] == "3"
    assert command[command.index("--timeout") + 1] == "60"
    assert command[-1] == "lightsage.serving.app:create_app()"


def test_gunicorn_writes_nothing_outside_the_runtime_folder(tmp_path: Path) -> None:
    # The control socket would go to ~/.gunicorn: not creatable on a read-only root or without a home.
    assert "--no-control-socket" in gunicorn_command(
        ServingSettings.from_environment({}), tmp_path / "s.sock"
    )
