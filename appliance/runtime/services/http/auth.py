"""Who is calling: a session cookie or HTTP Basic credentials, checked by the shared AAA core.

The service holds no password, permission or ban logic: it turns the request into
Credentials, asks `context.aaa`, and gives the route a Caller with the account's VirtualFS.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from appliance.runtime.aaa.identity import Account, Credentials
from appliance.runtime.events.event import format_peer
from appliance.runtime.fs.vfs import VirtualFS
from appliance.runtime.services.http.peers import Peer, client_peer
from appliance.runtime.services.http.sessions import COOKIE_NAME, Session
from appliance.runtime.services.http.state import HTTPState


class Banned(Exception):
    """The client address is banned; the answer is 403 without looking at credentials."""


@dataclass
class Caller:
    account: Account
    credentials: Credentials
    session: Session | None
    fs: VirtualFS


def state_of(request: Request) -> HTTPState:
    return request.app.state.http


def peer_of(request: Request) -> Peer:
    state = state_of(request)
    return client_peer(request.scope, state.forwarded_header, state.trusted_proxies)


def _caller(state: HTTPState, account: Account, credentials: Credentials, session) -> Caller:
    fs = VirtualFS(
        account,
        state.context.bus,
        protocol=state.protocol,
        peer=format_peer(credentials.peer_address, credentials.peer_port),
        component=state.component,
        temporary_grace=state.context.upload_temporary_grace,
    )
    return Caller(account, credentials, session, fs)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) of an `Authorization: Basic` header, or None."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None


async def check_credentials(
    state: HTTPState, peer: Peer, username: str, password: str
) -> tuple[Account, Credentials] | None:
    """Ask AAA (in a thread: methods may do network I/O); None when refused."""
    credentials = Credentials(
        username=username,
        protocol=state.protocol,
        service_id=state.service_id,
        peer_address=peer.address,
        peer_port=peer.port,
        password=password,
    )
    result = await run_in_threadpool(state.context.aaa.authenticate, credentials)
    return (result.account, credentials) if result.accepted else None


async def current_caller(request: Request) -> Caller | None:
    """The authenticated caller of this request, or None; raises Banned."""
    state = state_of(request)
    peer = peer_of(request)
    if not state.context.aaa.connection_allowed(peer.address, state.component):
        raise Banned(peer.address)
    token = request.cookies.get(COOKIE_NAME)
    session = state.sessions.find(token) or await _adopt(state, peer, token)
    if session is not None:
        return _caller(state, session.account, session.credentials, session)
    basic = basic_credentials(request.headers.get("authorization"))
    if basic is None:
        return None
    accepted = await check_credentials(state, peer, *basic)
    return _caller(state, *accepted, None) if accepted else None


async def _adopt(state: HTTPState, peer: Peer, token: str | None) -> Session | None:
    """A session another node logged in: rebuild its account here from AAA, or None."""
    claims = state.sessions.claims(token)
    if claims is None:
        return None
    credentials = Credentials(
        username=claims["sub"],
        protocol=state.protocol,
        service_id=state.service_id,
        peer_address=peer.address,
        peer_port=peer.port,
    )
    account = await run_in_threadpool(state.context.aaa.account_for, credentials, claims["mth"])
    if account is None:
        return None
    state.context.bus.emit(
        40011,
        state.component,
        account=account.name,
        peer=format_peer(peer.address, peer.port),
        method=account.method,
    )
    return state.sessions.adopt(claims["sid"], account, credentials)


async def log_in(request: Request, username: str, password: str) -> Session | None:
    state = state_of(request)
    peer = peer_of(request)
    if not state.context.aaa.connection_allowed(peer.address, state.component):
        raise Banned(peer.address)
    accepted = await check_credentials(state, peer, username, password)
    return state.sessions.open(*accepted) if accepted else None


def log_out(state: HTTPState, session: Session, *, everywhere: bool = True) -> None:
    """End the session: on every node (a logout), or only here (this service stops)."""
    ended = state.sessions.end(session) if everywhere else state.sessions.close(session)
    if ended:
        state.context.aaa.logout(
            session.account, session.credentials, time.monotonic() - session.started
        )


def end_session(request: Request) -> None:
    """Log out the session of the request's cookie, if it has a live one."""
    state = state_of(request)
    session = state.sessions.find(request.cookies.get(COOKIE_NAME))
    if session is not None:
        log_out(state, session)


def expire_sessions(state: HTTPState) -> int:
    """End the sessions whose time ran out (logout events); returns how many."""
    gone = state.sessions.expired()
    for session in gone:
        state.context.aaa.logout(
            session.account, session.credentials, time.monotonic() - session.started
        )
    return len(gone)
