"""``GET /epcis/events``: the EPCIS 2.0 REST query interface over every synced batch.

Answers an ``EPCISQueryDocument`` (the REST binding's result of an event query; an
``EPCISDocument`` is what a capture client sends) as ``application/ld+json``. Filters and
paging live in :mod:`sync_server.epcis.query`; errors are RFC 7807 problem documents with the
EPCIS exception types. Callers are office users (session cookie: the events of the facilities
in their districts, issue 16) or API tokens (Bearer: the whole province).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request

from sync_server.epcis.document import build_query_document
from sync_server.epcis.query import (
    QueryParameterError,
    decode_token,
    encode_token,
    parse_query,
    run_query,
)
from sync_server.store.db import reading
from sync_server.web.auth import api_client, current_scope
from sync_server.web.context import config as app_config
from sync_server.web.context import engine as app_engine

bp = Blueprint("epcis", __name__, url_prefix="/epcis")

MEDIA_TYPE = "application/ld+json"
_VERSION_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}


@bp.get("/events")
def events() -> Response:
    caller = api_client()
    if caller is None:
        problem = _problem(
            401,
            "epcisException:SecurityException",
            "Log in to the office or send Authorization: Bearer <API token>.",
        )
        problem.headers["WWW-Authenticate"] = 'Bearer realm="ocop"'
        return problem
    args = {name: request.args.getlist(name) for name in request.args}
    try:
        query = parse_query(args)
        token = request.args.get("nextPageToken")
        after = decode_token(_token_key(), token, query) if token is not None else None
    except QueryParameterError as exc:
        return _problem(
            400, "epcisException:QueryParameterException", exc.message, parameter=exc.parameter
        )
    config, engine = app_config(), app_engine()
    with reading(engine) as conn:
        # An office session sees its districts' facilities; API tokens are province-wide.
        within = None if caller.startswith("token:") else current_scope().codes(conn)
        found, next_position = run_query(
            conn, query, after, base_url=config.public_base_url, within=within
        )
    document = build_query_document(
        found, base_url=config.public_base_url, created=datetime.now().astimezone()
    )
    response = Response(json.dumps(document, ensure_ascii=False), mimetype=MEDIA_TYPE)
    response.headers.update(_VERSION_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    if next_position is not None:
        pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "nextPageToken"]
        pairs.append(("nextPageToken", encode_token(_token_key(), next_position, query)))
        response.headers["Link"] = f'<{request.base_url}?{urlencode(pairs)}>; rel="next"'
    return response


def _token_key() -> bytes:
    """A key for page tokens only, derived from the app's secret (never the secret itself)."""
    secret = current_app.secret_key
    raw = secret if isinstance(secret, bytes) else str(secret).encode()
    return hashlib.sha256(b"ocop epcis page token\0" + raw).digest()


def _problem(status: int, kind: str, detail: str, **extra: Any) -> Response:
    titles = {400: "Bad query parameter", 401: "Authentication required"}
    body = {"type": kind, "title": titles[status], "status": status, "detail": detail, **extra}
    response = Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json"
    )
    response.headers.update(_VERSION_HEADERS)
    return response
