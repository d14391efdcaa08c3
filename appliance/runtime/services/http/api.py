"""The JSON API under /api/: session login or HTTP Basic, list, stat, download, upload, mkdir,
rename, delete. The OpenAPI document (openapi.py) describes exactly these routes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from appliance.runtime.fs.errors import FSError
from appliance.runtime.fs.vfs import FileInfo
from appliance.runtime.services.http import auth, openapi, transfer
from appliance.runtime.services.http.auth import Banned, Caller
from appliance.runtime.services.http.bounds import (
    MAX_JSON_BODY,
    MAX_JSON_DEPTH,
    json_nesting_depth,
)
from appliance.runtime.services.http.cookies import clear_session_cookie, set_session_cookie
from appliance.runtime.services.http.errors import message_for, status_for

OPERATIONS = ("list", "read", "write", "rename", "delete-file", "create-folder", "delete-folder")
Handler = Callable[[Request, Caller], Awaitable[Response]]


def error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def entry(info: FileInfo) -> dict:
    modified = datetime.fromtimestamp(info.mtime, UTC).isoformat(timespec="seconds")
    return {
        "name": info.name,
        "path": info.path,
        "type": "folder" if info.is_dir else "file",
        "size": info.size,
        "modified": modified.replace("+00:00", "Z"),
    }


def inside(folder: str) -> str:
    """A path inside `folder`, to ask what the account may do there (buttons, not checks)."""
    return folder.rstrip("/") + "/new"


def virtual(request: Request) -> str:
    return "/" + request.path_params.get("path", "")


def authenticated(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Run `handler` with the caller; 401/403 without one, FSError mapped to a status."""

    @wraps(handler)
    async def route(request: Request) -> Response:
        try:
            caller = await auth.current_caller(request)
        except Banned:
            return error(403, "this address is temporarily banned")
        if caller is None:
            return error(401, "log in first", **{"www-authenticate": 'Basic realm="appliance"'})
        try:
            response = await handler(request, caller)
        except FSError as failure:
            response = error(status_for(failure), message_for(failure))
        if caller.session is not None:
            set_session_cookie(response, auth.state_of(request), caller.session)
        return response

    return route


class JSONBodyError(ValueError):
    """A request body that is not a small, shallow JSON object; the message says why."""


async def read_json(request: Request) -> dict:
    """The request's JSON object body; JSONBodyError when it is missing, too big, nested
    too deep (json.loads would recurse without bound) or not an object."""
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_JSON_BODY:
                raise JSONBodyError(f"the JSON body is larger than {MAX_JSON_BODY} bytes")
    except ClientDisconnect:
        raise JSONBodyError("the request body ended early") from None
    if json_nesting_depth(body) > MAX_JSON_DEPTH:
        raise JSONBodyError(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(body)
    except ValueError:
        raise JSONBodyError("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise JSONBodyError("the JSON body is not an object")
    return value


async def json_strings(request: Request, *names: str) -> list[str]:
    """The string fields `names` of the JSON object body, each present and non-empty."""
    data = await read_json(request)
    values = [data.get(name) for name in names]
    if not all(isinstance(v, str) and v for v in values):
        raise JSONBodyError(f"expected a JSON object with {' and '.join(names)}")
    return values


async def login(request: Request) -> Response:
    try:
        fields = await json_strings(request, "username", "password")
    except JSONBodyError as problem:
        return error(400, str(problem))
    try:
        session = await auth.log_in(request, *fields)
    except Banned:
        return error(403, "this address is temporarily banned")
    if session is None:
        return error(401, "the username or password is not right")
    response = JSONResponse({"account": session.account.name})
    set_session_cookie(response, auth.state_of(request), session)
    return response


async def logout(request: Request) -> Response:
    auth.end_session(request)
    response = Response(status_code=204)
    clear_session_cookie(response, auth.state_of(request))
    return response


@authenticated
async def whoami(request: Request, caller: Caller) -> Response:
    allowed = [op for op in OPERATIONS if caller.fs.allows(op, "/")]
    return JSONResponse({"account": caller.account.name, "allowed_at_root": allowed})


@authenticated
async def files_get(request: Request, caller: Caller) -> Response:
    info = await run_in_threadpool(caller.fs.stat, virtual(request))
    if info.is_dir:
        return await _folder(request, caller, info)
    if request.method == "HEAD":
        wanted = transfer.ByteRange(0, info.size, False)
        return Response(headers=transfer.download_headers(info, wanted))
    return await transfer.download(caller, info, request.headers.get("range"))


async def _folder(request: Request, caller: Caller, info: FileInfo) -> Response:
    if request.method == "HEAD":
        return Response(headers={"content-type": "application/json", "x-file-type": "folder"})
    entries = await run_in_threadpool(caller.fs.list, info.path)
    allowed = [op for op in OPERATIONS if caller.fs.allows(op, inside(info.path))]
    return JSONResponse(
        {"path": info.path, "entries": [entry(e) for e in entries], "allowed": allowed},
        headers={"x-file-type": "folder"},
    )


@authenticated
async def files_put(request: Request, caller: Caller) -> Response:
    path = virtual(request)
    if path == "/" or request.path_params.get("path", "").endswith("/"):
        return error(400, "an upload needs a file name")
    try:
        stored = await transfer.receive_upload(caller, path, request)
    except ClientDisconnect:
        return error(400, "the request body was incomplete")
    info = await run_in_threadpool(caller.fs.stat, stored)
    return JSONResponse(entry(info), status_code=201)


@authenticated
async def files_delete(request: Request, caller: Caller) -> Response:
    path = virtual(request)
    info = await run_in_threadpool(caller.fs.stat, path)
    await run_in_threadpool(caller.fs.rmdir if info.is_dir else caller.fs.remove, info.path)
    return Response(status_code=204)


@authenticated
async def folders_post(request: Request, caller: Caller) -> Response:
    path = virtual(request)
    if path == "/":
        return error(409, "/: the root folder already exists")
    await run_in_threadpool(caller.fs.mkdir, path)
    info = await run_in_threadpool(caller.fs.stat, path)
    return JSONResponse(entry(info), status_code=201)


@authenticated
async def stat(request: Request, caller: Caller) -> Response:
    return JSONResponse(entry(await run_in_threadpool(caller.fs.stat, virtual(request))))


@authenticated
async def rename(request: Request, caller: Caller) -> Response:
    try:
        fields = await json_strings(request, "source", "destination")
    except JSONBodyError as problem:
        return error(400, str(problem))
    await run_in_threadpool(caller.fs.rename, *fields)
    info = await run_in_threadpool(caller.fs.stat, fields[1])
    return JSONResponse(entry(info))


async def openapi_document(request: Request) -> Response:
    return JSONResponse(openapi.document())


ROUTES = [
    Route("/api/openapi.json", openapi_document, methods=["GET"]),
    Route("/api/login", login, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/session", whoami, methods=["GET"]),
    Route("/api/files/{path:path}", files_get, methods=["GET", "HEAD"]),
    Route("/api/files/{path:path}", files_put, methods=["PUT"]),
    Route("/api/files/{path:path}", files_delete, methods=["DELETE"]),
    Route("/api/folders/{path:path}", folders_post, methods=["POST"]),
    Route("/api/stat/{path:path}", stat, methods=["GET"]),
    Route("/api/rename", rename, methods=["POST"]),
]
