"""The HTTP layer: /ping, /invocations and /execution-parameters as a Flask app, one per gunicorn worker.

`create_app()` loads the model before it returns, so a worker only serves once its model is in memory, and a
worker whose model cannot load never starts (gunicorn then stops and `serve` exits non-zero). A model trained
in script mode loads with the source SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY name
(lightsage.recipes.script), which `serve` has fetched for its workers.

The routes only read the request and write the response. An invocation passes through pure functions, as
SageMaker's inference toolkit lays them out: negotiate (lightsage.serving.negotiate: the answer's media type
and the explain flag) -> decode (lightsage.serving.decode: the body into typed rows) -> predict
(lightsage.serving.predictor) -> encode (lightsage.serving.encode).

Errors become JSON bodies here, their status by who is to blame (lightsage.errors): the client's mistake
(PayloadError, or any UserError) its 4xx, a platform fault 503, anything else (a bug) 500 without details,
its traceback in the log.
"""

from __future__ import annotations

import gc
import json
import logging
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from lightsage.contract.paths import MLPaths
from lightsage.errors import PlatformError, UserError
from lightsage.model import artifact
from lightsage.recipes import script as script_mode
from lightsage.serving.compiled import Watch
from lightsage.serving.decode import decode, decompressed
from lightsage.serving.encode import Encoder
from lightsage.serving.negotiate import JSON, AnswerFormat, answer_format
from lightsage.serving.predictor import Predictor
from lightsage.serving.readiness import report_model_loaded
from lightsage.serving.settings import ServingSettings

logger = logging.getLogger(__name__)
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


def answer(
    predictor: Predictor,
    encoder: Encoder,
    wanted: AnswerFormat,
    body: bytes,
    content_type: str,
    content_encoding: str | None,
    limit: int,
) -> str:
    """One invocation once its answer's form is chosen: decode -> predict -> encode. PayloadError for a client
    mistake."""
    manifest = predictor.manifest
    decoded = decode(
        decompressed(body, content_encoding, limit), content_type, manifest.inputs, manifest.target
    )
    if wanted.explain:
        scores, contributions = predictor.explained(decoded)
        return encoder.encode(scores, wanted.media_type, contributions)
    return encoder.encode(predictor.scores(decoded), wanted.media_type)


def _json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, mimetype=JSON)


def create_app(
    model_dir: Path | None = None,
    settings: ServingSettings | None = None,
    script: script_mode.Script | None = None,
) -> Flask:
    """The app serving the model in `model_dir` (default /opt/ml/model) with its recipe: `script`, else the
    script-mode source the environment names, else the image's."""
    settings = settings or ServingSettings.from_environment()
    script = script or script_mode.from_environment()
    model_dir = model_dir or MLPaths.from_environment().model_dir
    predictor = Predictor(artifact.load(model_dir, script))
    manifest = predictor.manifest
    encoder = Encoder(manifest.task, manifest.classes, manifest.features)
    # The model's objects live as long as the worker: keep the garbage collector from rescanning them.
    gc.collect()
    gc.freeze()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    execution_parameters = json.dumps(
        {
            "MaxConcurrentTransforms": settings.max_concurrent_transforms,
            "BatchStrategy": settings.batch_strategy,
            "MaxPayloadInMB": settings.max_payload_mb,
        }
    )

    @app.get("/ping")
    def ping() -> Response:
        return Response(status=200)

    @app.get("/execution-parameters")
    def get_execution_parameters() -> Response:
        return Response(execution_parameters, status=200, mimetype=JSON)

    @app.post("/invocations")
    def invocations() -> Response:
        headers = request.headers
        wanted = answer_format(headers.get("Accept"), headers.get(CUSTOM_ATTRIBUTES))
        body = answer(
            predictor,
            encoder,
            wanted,
            request.get_data(cache=False),
            headers.get("Content-Type", ""),
            headers.get("Content-Encoding"),
            settings.max_payload_bytes,
        )
        return Response(body, status=200, mimetype=wanted.media_type)

    @app.errorhandler(UserError)
    def client_mistake(error: UserError) -> Response:
        return _json_response(error.status, error.body())

    @app.errorhandler(PlatformError)
    def platform_fault(error: PlatformError) -> Response:
        logger.warning("answered %d: %s", error.status, error)
        return _json_response(error.status, error.body())

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Response:
        return _json_response(
            413, {"error": f"request body is larger than the {settings.max_payload_mb} MB limit"}
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        message = f"{error.name}: {request.method} {request.path}"
        response = _json_response(error.code or 500, {"error": message})
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> Response:
        logger.exception("prediction failed: a bug in lightsage or in the recipe's code; please report it")
        return _json_response(500, {"error": f"internal error while predicting: {type(error).__name__}"})

    # Under `serve`, /ping (answered by nginx) turns 200 once every worker has got here.
    report_model_loaded()
    # Under `serve`, batches switch to compiled trees once the container's compile is done and checked.
    watch = Watch.from_environment(predictor.model, model_dir)
    if watch is not None:
        watch.start(predictor)
    return app
