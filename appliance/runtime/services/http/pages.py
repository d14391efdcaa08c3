"""The browser file manager: login page, folder listing with the permitted actions, logout.

Plain HTML forms (no JavaScript needed) for login, logout, create folder, rename and delete,
each with the browser's anti-CSRF form token (form_tokens.py), checked on every post; the
upload form uses a little JavaScript (static/files.js) to stream each file with PUT to the
JSON API. Templates autoescape everything the user or the filesystem provides.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from appliance.runtime.fs.errors import FSError
from appliance.runtime.services.http import auth, form_tokens, transfer
from appliance.runtime.services.http.api import OPERATIONS, entry, inside
from appliance.runtime.services.http.auth import Banned, Caller
from appliance.runtime.services.http.cookies import clear_session_cookie, set_session_cookie
from appliance.runtime.services.http.errors import message_for, status_for

MAX_FORM_BODY = 64 * 1024
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def url_of(path: str) -> str:
    """The /files/ URL of a virtual path (each segment percent-encoded)."""
    return "/files" + quote(path, safe="/")


TEMPLATES.filters["file_url"] = url_of


STALE_FORM = "The form was out of date: reload the page and try again."


def render(request: Request, name: str, status: int = 200, **values) -> HTMLResponse:
    """A page; its forms carry the browser's form token, which its cookie then holds."""
    token = form_tokens.token_of(request)
    html = TEMPLATES.get_template(name).render(csrf_field=form_tokens.FIELD, csrf=token, **values)
    response = HTMLResponse(html, status_code=status)
    form_tokens.remember(response, auth.state_of(request), token)
    return response


def stale_form(request: Request, form: dict[str, str]) -> bool:
    return not form_tokens.form_accepted(request, form, auth.state_of(request))


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (small), first value of each field."""
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BODY:
                return {}
    except ClientDisconnect:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


async def home(request: Request) -> Response:
    return RedirectResponse("/files/", status_code=303)


async def login_page(request: Request) -> Response:
    return render(request, "login.html")


async def login_submit(request: Request) -> Response:
    form = await read_form(request)
    if stale_form(request, form):
        return render(request, "login.html", 403, error=STALE_FORM)
    username, password = form.get("username", ""), form.get("password", "")
    if not username or not password:
        return render(request, "login.html", 400, error="Enter a username and a password.")
    try:
        session = await auth.log_in(request, username, password)
    except Banned:
        return render(request, "login.html", 403, error="This address is temporarily banned.")
    if session is None:
        return render(request, "login.html", 401, error="The username or password is not right.")
    response = RedirectResponse("/files/", status_code=303)
    set_session_cookie(response, auth.state_of(request), session)
    return response


async def logout_submit(request: Request) -> Response:
    if stale_form(request, await read_form(request)):
        return render(request, "error.html", 403, message=STALE_FORM)
    auth.end_session(request)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, auth.state_of(request))
    return response


async def _caller_or_login(request: Request) -> Caller | Response:
    try:
        caller = await auth.current_caller(request)
    except Banned:
        return render(request, "login.html", 403, error="This address is temporarily banned.")
    return caller if caller is not None else RedirectResponse("/login", status_code=303)


async def folder_page(
    request: Request, caller: Caller, path: str, status: int = 200, error: str = ""
) -> Response:
    entries = await run_in_threadpool(caller.fs.list, path)
    entries.sort(key=lambda e: (not e.is_dir, e.name.lower()))
    parent = posixpath.dirname(path.rstrip("/")) or "/"
    return render(
        request,
        "folder.html",
        status,
        account=caller.account.name,
        path=path,
        parent=None if path == "/" else parent,
        entries=[entry(e) for e in entries],
        allowed={op: caller.fs.allows(op, inside(path)) for op in OPERATIONS},
        error=error,
    )


async def files_get(request: Request) -> Response:
    caller = await _caller_or_login(request)
    if not isinstance(caller, Caller):
        return caller
    try:
        response = await _show(request, caller, "/" + request.path_params["path"])
    except FSError as failure:
        response = render(request, "error.html", status_for(failure), message=message_for(failure))
    if caller.session is not None:
        set_session_cookie(response, auth.state_of(request), caller.session)
    return response


async def _show(request: Request, caller: Caller, path: str) -> Response:
    info = await run_in_threadpool(caller.fs.stat, path)
    if info.is_dir:
        if not request.url.path.endswith("/"):
            return RedirectResponse(url_of(info.path.rstrip("/") + "/"), status_code=303)
        return await folder_page(request, caller, info.path)
    return await transfer.download(caller, info, request.headers.get("range"))


async def files_post(request: Request) -> Response:
    caller = await _caller_or_login(request)
    if not isinstance(caller, Caller):
        return caller
    folder = "/" + request.path_params["path"]
    form = await read_form(request)
    try:
        folder = caller.fs.normalize(folder)
        if stale_form(request, form):
            raise StaleForm(STALE_FORM)
        await run_in_threadpool(_act, caller, folder, form)
    except (FSError, ValueError) as failure:
        message = message_for(failure) if isinstance(failure, FSError) else str(failure)
        status = status_for(failure) if isinstance(failure, FSError) else 400
        status = 403 if isinstance(failure, StaleForm) else status
        try:
            return await folder_page(request, caller, folder, status, message)
        except FSError as again:
            return render(request, "error.html", status_for(again), message=message_for(again))
    return RedirectResponse(url_of(folder.rstrip("/") + "/"), status_code=303)


class StaleForm(ValueError):
    """A posted form without the browser's form token (403)."""


def _child(folder: str, name: str) -> str:
    if not name or "/" in name:
        raise ValueError(f"{name!r} is not a name: names cannot be empty or hold a slash")
    return posixpath.join(folder, name)


def _act(caller: Caller, folder: str, form: dict[str, str]) -> None:
    """One form action (mkdir, rename, delete) inside `folder`; FSError or ValueError."""
    action, fs = form.get("action"), caller.fs
    if action == "mkdir":
        fs.mkdir(_child(folder, form.get("name", "")))
    elif action == "rename":
        fs.rename(_child(folder, form.get("name", "")), _child(folder, form.get("to", "")))
    elif action == "delete":
        target = _child(folder, form.get("name", ""))
        (fs.rmdir if fs.stat(target).is_dir else fs.remove)(target)
    else:
        raise ValueError("unknown action: expected mkdir, rename or delete")


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout_submit, methods=["POST"]),
    Route("/files/{path:path}", files_get, methods=["GET"]),
    Route("/files/{path:path}", files_post, methods=["POST"]),
]
