"""The Files and Batch endpoints of the stand-in, as ``client.files`` and ``client.batches``
call them.

``POST /v1/files`` (multipart: ``file``, ``purpose``), ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``DELETE /v1/files/{id}``; ``POST /v1/batches``,
``GET /v1/batches`` (newest first), ``GET /v1/batches/{id}``,
``POST /v1/batches/{id}/cancel``. Only ``/v1/responses`` batches run here. Output files
are written the first time a finished batch is looked at.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, request

from sandbox.openai_batch_input import parse_input, row_failure
from sandbox.openai_batch_output import file_field, output_files
from sandbox.openai_batches import BatchRecord, render_batch
from sandbox.openai_errors import ApiError, invalid_request, not_found
from sandbox.openai_files import PURPOSES, StoredFile, new_file_id
from sandbox.openai_http import api_error, json_response, state
from sandbox.openai_responses import JSON
from sandbox.openai_validate import validate_create, validate_metadata

batches_api = Blueprint("openai_batches", __name__, url_prefix="/v1")

_BATCH_ENDPOINTS = (
    *("/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions"),
    *("/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos"),
)
_WRITES_OUTPUT = frozenset({"completed", "cancelled", "expired"})


def _missing(name: str) -> Response:
    message = f"Missing required parameter: '{name}'."
    return api_error(invalid_request(message, name, "missing_required_parameter"))


def _invalid_value(name: str, value: Any, allowed: tuple[str, ...]) -> Response:
    listed = ", ".join(f"'{a}'" for a in allowed)
    message = f"Invalid value: '{value}'. Supported values are: {listed}."
    return api_error(invalid_request(message, name, "invalid_value"))


# -- files --------------------------------------------------------------------------------------


@batches_api.post("/files")
def upload_file() -> Response:
    """``POST /v1/files``."""
    upload = request.files.get("file")
    purpose = request.form.get("purpose")
    if upload is None:
        return _missing("file")
    if purpose is None:
        return _missing("purpose")
    if purpose not in PURPOSES:
        return _invalid_value("purpose", purpose, PURPOSES)
    filename = upload.filename or "upload"
    if purpose == "batch" and not filename.endswith(".jsonl"):
        message = "Invalid file format for Batch API. Must be .jsonl"
        return api_error(invalid_request(message, "file"))
    made = StoredFile(new_file_id(), state().now(), filename, purpose, upload.read())
    return json_response(state().files.add(made).render())


def _file(file_id: str) -> StoredFile | Response:
    found = state().files.get(file_id, state().now())
    if found is None:
        return api_error(not_found(f"No such File object: {file_id}", "id"))
    return found


@batches_api.get("/files/<file_id>")
def retrieve_file(file_id: str) -> Response:
    """``GET /v1/files/{id}``."""
    found = _file(file_id)
    return found if isinstance(found, Response) else json_response(found.render())


@batches_api.get("/files/<file_id>/content")
def file_content(file_id: str) -> Response:
    """``GET /v1/files/{id}/content``: the bytes as uploaded (or as the batch wrote them)."""
    found = _file(file_id)
    if isinstance(found, Response):
        return found
    return Response(found.content, mimetype="application/octet-stream")


@batches_api.delete("/files/<file_id>")
def delete_file(file_id: str) -> Response:
    """``DELETE /v1/files/{id}``."""
    found = _file(file_id)
    if isinstance(found, Response):
        return found
    state().files.delete(file_id)
    return json_response({"id": file_id, "object": "file", "deleted": True})


# -- batches ------------------------------------------------------------------------------------


@batches_api.post("/batches")
def create_batch() -> Response:
    """``POST /v1/batches``: validated now, run lazily over time."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(invalid_request("We could not parse the JSON body of your request."))
    problem = _batch_problem(body)
    if problem is not None:
        return problem
    found = _input_file(body["input_file_id"])
    if isinstance(found, ApiError):
        return api_error(found)
    batch = _new_batch(body, found)
    sandbox = state()
    sandbox.batches.add(batch)
    if sandbox.settings.webhook_url:
        sandbox.dispatcher.schedule(batch.terminal_at(), batch.id)
    return json_response(render_batch(batch, sandbox.now()))


def _batch_problem(body: JSON) -> Response | None:
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(body.get(name), str):
            return _missing(name)
    if body["endpoint"] not in _BATCH_ENDPOINTS:
        return _invalid_value("endpoint", body["endpoint"], _BATCH_ENDPOINTS)
    if body["endpoint"] != "/v1/responses":
        message = "The sandbox runs /v1/responses batches only."
        return api_error(invalid_request(message, "endpoint"))
    if body["completion_window"] != "24h":
        return _invalid_value("completion_window", body["completion_window"], ("24h",))
    problem = validate_metadata(body.get("metadata"))
    return None if problem is None else api_error(problem)


def _input_file(file_id: str) -> StoredFile | ApiError:
    found = state().files.get(file_id, state().now())
    if found is None:
        return invalid_request(
            f"Invalid 'input_file_id': '{file_id}'. File with id '{file_id}' not found.",
            "input_file_id",
        )
    if found.purpose != "batch":
        return invalid_request(
            f"Invalid 'input_file_id': '{file_id}'. The file must be uploaded with purpose"
            " 'batch'.",
            "input_file_id",
        )
    return found


def _new_batch(body: JSON, file: StoredFile) -> BatchRecord:
    batch_id = "batch_" + secrets.token_hex(16)
    settings = state().settings

    def judge(custom_id: str, row: JSON) -> ApiError | None:
        rate = settings.batch_row_failure_rate
        return row_failure(batch_id, custom_id, rate, validate_create(row))

    rows, errors = parse_input(file.content, body["endpoint"], judge)
    models = [row.body["model"] for row in rows if isinstance(row.body.get("model"), str)]
    request_fields = {
        "endpoint": body["endpoint"],
        "input_file_id": file.id,
        "completion_window": body["completion_window"],
        "metadata": body.get("metadata"),
    }
    return BatchRecord(
        batch_id,
        state().now(),
        request_fields,
        tuple(rows),
        tuple(errors),
        settings,
        models[0] if models else None,
    )


def _batch(batch_id: str) -> BatchRecord | Response:
    found = state().batches.get(batch_id)
    if found is None:
        return api_error(not_found(f"No batch found with id '{batch_id}'.", "batch_id"))
    return found


@batches_api.get("/batches")
def list_batches() -> Response:
    """``GET /v1/batches``: newest first, ``limit`` (1-100, default 20) after ``after``."""
    raw = request.args.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        message = f"Invalid 'limit': integer between 1 and 100 expected, got '{raw}'."
        return api_error(invalid_request(message, "limit", "integer_out_of_range"))
    sandbox = state()
    page, more = sandbox.batches.newest(request.args.get("after"), int(raw))
    data = [render_batch(batch, sandbox.now()) for batch in page]
    body: JSON = {"object": "list", "data": data, "has_more": more}
    if data:
        body.update(first_id=data[0]["id"], last_id=data[-1]["id"])
    return json_response(body)


@batches_api.get("/batches/<batch_id>")
def retrieve_batch(batch_id: str) -> Response:
    """``GET /v1/batches/{id}``."""
    found = _batch(batch_id)
    return found if isinstance(found, Response) else _view(found)


@batches_api.post("/batches/<batch_id>/cancel")
def cancel_batch(batch_id: str) -> Response:
    """``POST /v1/batches/{id}/cancel``: ``cancelling`` now, ``cancelled`` a little later."""
    found = _batch(batch_id)
    if isinstance(found, Response):
        return found
    sandbox = state()
    status = sandbox.batches.cancel(found, sandbox.now())
    if status not in ("cancelling", "cancelled"):
        message = f"Cannot cancel a batch with status '{status}'."
        return api_error(invalid_request(message))
    if sandbox.settings.webhook_url:
        sandbox.dispatcher.schedule(found.terminal_at(), found.id)
    return _view(found)


def _view(batch: BatchRecord) -> Response:
    """The batch now, writing its output files the first time it is seen finished."""
    sandbox = state()
    now = sandbox.now()
    status = batch.status_at(now)
    if status in _WRITES_OUTPUT and not batch.files:
        written = [sandbox.files.add(f) for f in output_files(batch, status, now)]
        sandbox.batches.attach_files(batch, {file_field(f): f.id for f in written})
    return json_response(render_batch(batch, now))
