"""The `http` method: POST the credentials to a web service that accepts, rejects or passes.

Request body (JSON):
    {"credentials": {"type": "password" | "publickey" | "certificate", "username": ...,
                     "content": password | OpenSSH public key line | PEM certificate,
                     "peer": {"address": ..., "port": ...}},
     "server": {"name": ..., "service": ..., "protocol": ...}}
Answers: 200 or 204 accept, 401 pass (not mine), 403 reject; anything else, a timeout or a
TLS failure is an error (event 20022) and the chain moves on. A 200 body may carry
`home_folder`, `groups` (list) and `permissions` (lines, as in server.ini). Redirects are
not followed, so the password only goes to the configured URL.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request

from appliance.config import Config, Section
from appliance.runtime.aaa.decision import AccountSpec, Decision, MethodError
from appliance.runtime.aaa.identity import Credentials
from appliance.runtime.aaa.permission_rules import PermissionSyntaxError, parse_permissions
from appliance.runtime.aaa.public_keys import KeyError_, blob_type

MAX_RESPONSE = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


def _content(credentials: Credentials) -> str:
    if credentials.kind == "publickey":
        blob = credentials.public_key or b""
        try:
            key_type = blob_type(blob)
        except KeyError_:
            key_type = "unknown"
        return f"{key_type} {base64.b64encode(blob).decode()}"
    if credentials.kind == "certificate":
        body = base64.encodebytes(credentials.certificate or b"").decode()
        return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
    return credentials.password or ""


class HTTPMethod:
    def __init__(self, section: Section, config: Config) -> None:
        self.id = section.id
        self.section = section
        self.options = section.options
        self.config = config

    def _ssl_context(self) -> ssl.SSLContext:
        ca = self.section.path("ca_certificate")
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if not self.options.get("validate_certificate", True):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _body(self, credentials: Credentials) -> bytes:
        return json.dumps(
            {
                "credentials": {
                    "type": credentials.kind,
                    "username": credentials.username,
                    "content": _content(credentials),
                    "peer": {"address": credentials.peer_address, "port": credentials.peer_port},
                },
                "server": {
                    "name": self.config.server.options.get("name"),
                    "service": credentials.service_id,
                    "protocol": credentials.protocol,
                },
            }
        ).encode("utf-8")

    def _post(self, credentials: Credentials) -> tuple[int, bytes]:
        url = self.options["url"]
        handlers: list = [_NoRedirect()]
        if url.lower().startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=self._ssl_context()))
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked by the schema
            url,
            data=self._body(credentials),
            method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with opener.open(request, timeout=self.options.get("timeout", 10)) as response:
                return response.status, response.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as error:
            return error.code, b""
        except (urllib.error.URLError, OSError, ssl.SSLError) as error:
            reason = getattr(error, "reason", error)
            raise MethodError(f"POST {url} failed: {reason}") from None

    def authenticate(self, credentials: Credentials) -> Decision:
        status, body = self._post(credentials)
        if status == 401:
            return Decision.passed("the HTTP service does not know this account")
        if status == 403:
            return Decision.reject("the HTTP service rejected the credentials")
        if status not in (200, 204):
            raise MethodError(f"the HTTP service answered {status}; expected 200, 204, 401 or 403")
        return Decision.accept(self._account(credentials, body if status == 200 else b""))

    def _account(self, credentials: Credentials, body: bytes) -> AccountSpec:
        if len(body) > MAX_RESPONSE:
            raise MethodError("the HTTP service answered with more than 64 KiB")
        data: dict = {}
        if body.strip():
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise MethodError(
                    "the HTTP service answered 200 with a body that is not JSON"
                ) from None
            if not isinstance(data, dict):
                raise MethodError("the HTTP service answered 200 with JSON that is not an object")
        groups = data.get("groups") or []
        if not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
            raise MethodError("`groups` in the HTTP answer must be a list of group ids")
        if not groups and self.options.get("default_group"):
            groups = [self.options["default_group"]]
        permissions = data.get("permissions")
        if isinstance(permissions, str):
            permissions = permissions.splitlines()
        if permissions is not None:
            if not (isinstance(permissions, list) and all(isinstance(p, str) for p in permissions)):
                raise MethodError("`permissions` in the HTTP answer must be lines of text")
            try:
                parse_permissions(permissions)
            except PermissionSyntaxError as error:
                raise MethodError(f"`permissions` in the HTTP answer: {error}") from None
        home = data.get("home_folder")
        if home is not None and not isinstance(home, str):
            raise MethodError("`home_folder` in the HTTP answer must be a path")
        return AccountSpec(
            name=credentials.username,
            groups=tuple(groups),
            home_folder_path=home or None,
            permissions=tuple(permissions) if permissions else None,
        )
