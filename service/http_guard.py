"""RequestGuard: the HTTP edge's own rules, as one pure-ASGI middleware.

BentoML validates the Post fields; this guard adds what it does not do:
  * API keys: with $BONUSCHECK_API_KEYS set (comma-separated), every route but
    health and metrics needs `Authorization: Bearer <key>` (401 otherwise,
    compared in constant time);
  * body size: JSON bodies over $BONUSCHECK_MAX_JSON_BYTES (1 MB) and uploads
    over $BONUSCHECK_MAX_UPLOAD_BYTES (200 MB) get 413, counted as bytes
    arrive, so a client lying in Content-Length gains nothing;
  * malformed JSON (or JSON nested too deep to parse) gets 400 naming the problem;
  * multipart bodies are parsed once here: a broken one gets 400, and a `files`
    part that is not a file gets 422 -- BentoML would otherwise treat such a
    text part as a URL and download it;
  * field validation failures come back as 422 with one loc/msg entry per field.
"""

from __future__ import annotations

import hmac
import json
import os
from typing import Any, Awaitable, Callable

from .schemas import json_type_name

__all__ = ["RequestGuard", "api_keys_from_env"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

OPEN_PATHS = ("/livez", "/readyz", "/healthz", "/metrics")
API_PATHS = ("/evaluate", "/evaluate_batch", "/evaluate_upload")


def api_keys_from_env() -> tuple[bytes, ...]:
    raw = os.environ.get("BONUSCHECK_API_KEYS", "")
    return tuple(k.strip().encode() for k in raw.split(",") if k.strip())


class _TooLarge(Exception):
    pass


async def _respond(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestGuard:
    def __init__(self, app: Callable, max_json_bytes: int | None = None, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.keys = api_keys_from_env()
        self.max_json = max_json_bytes or int(os.environ.get("BONUSCHECK_MAX_JSON_BYTES", 1_000_000))
        self.max_upload = max_upload_bytes or int(os.environ.get("BONUSCHECK_MAX_UPLOAD_BYTES", 200_000_000))

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        if not self.keys:
            return True
        header = headers.get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        ok = False
        for key in self.keys:  # compare against every key so timing does not reveal which matched
            ok |= hmac.compare_digest(token.strip(), key)
        return scheme.lower() == b"bearer" and ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = dict(scope.get("headers", []))
        if not path.startswith(OPEN_PATHS) and not self._authorized(headers):
            return await _respond(
                send, 401, {"error": "missing or invalid API key", "detail": [{"loc": ["header", "Authorization"], "msg": "expected 'Bearer <key>'", "type": "unauthorized"}]},
                [(b"www-authenticate", b"Bearer")],
            )
        if scope.get("method") != "POST" or path not in API_PATHS:
            return await self.app(scope, receive, send)
        content_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip()
        is_multipart = content_type == b"multipart/form-data"
        limit = self.max_upload if is_multipart else self.max_json
        try:
            body = await self._read_body(receive, limit)
        except _TooLarge:
            return await _respond(send, 413, {"error": f"request body over {limit} bytes", "detail": [{"loc": ["body"], "msg": f"expected at most {limit} bytes", "type": "too_large"}]})
        if is_multipart:
            status, problem = await self._multipart_problem(scope, body)
            if problem:
                return await _respond(send, status, {"error": "invalid multipart request", "detail": [problem]})
        else:
            problem = self._json_problem(body)
            if problem:
                return await _respond(send, 400, {"error": "request body is not valid JSON", "detail": [{"loc": ["body"], "msg": problem, "type": "json_invalid"}]})
        await self.app(scope, self._replay(body), self._validation_as_422(send))

    @staticmethod
    async def _read_body(receive: Receive, limit: int) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def _json_problem(body: bytes) -> str | None:
        try:
            value = json.loads(body or b"")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return f"expected a JSON object, got unparsable input ({exc})"
        except RecursionError:
            return "expected a JSON object, got nesting too deep to parse"
        if not isinstance(value, dict):
            return f"expected a JSON object, got {json_type_name(value)}"
        return None

    @staticmethod
    async def _multipart_problem(scope: Scope, body: bytes) -> tuple[int, dict[str, Any] | None]:
        """Parse the form once; (status, error entry) when it is broken or `files` holds non-files."""
        from starlette.datastructures import Headers, UploadFile
        from starlette.formparsers import MultiPartException, MultiPartParser

        async def stream():
            yield body

        try:
            form = await MultiPartParser(Headers(scope=scope), stream()).parse()
        except (MultiPartException, ValueError, KeyError) as exc:
            return 400, {"loc": ["body"], "msg": f"expected multipart/form-data with a boundary, got {exc}", "type": "multipart_invalid"}
        try:
            for i, part in enumerate(form.getlist("files")):
                if not isinstance(part, UploadFile):
                    return 422, {"loc": ["files", i], "msg": "expected an uploaded file, got a text field", "type": "file_type"}
        finally:
            await form.close()
        return 200, None

    @staticmethod
    def _replay(body: bytes) -> Receive:
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        return receive

    @staticmethod
    def _validation_as_422(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 400:
                message = {**message, "status": 422}
            await send(message)

        return wrapped
