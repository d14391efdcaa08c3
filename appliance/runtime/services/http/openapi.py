"""The OpenAPI 3 document of the JSON API, served at /api/openapi.json.

tests/unit/test_http_openapi.py checks that it names exactly the routes of api.py.
"""

from __future__ import annotations

from appliance import __version__

SECURITY = [{"basic": []}, {"session": []}]


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: dict | None = None) -> dict:
    return {"description": description, **({"content": _json(schema)} if schema else {})}


ERRORS = {
    "400": _answer("The request is not acceptable (bad path or body).", _ref("Error")),
    "401": _answer("Not logged in: send HTTP Basic credentials or the session cookie."),
    "403": _answer("The account may not do this here, or the address is banned."),
    "404": _answer("No such file or folder.", _ref("Error")),
    "409": _answer("The path exists, is not empty, or is of the wrong kind.", _ref("Error")),
}
PATH = {
    "name": "path",
    "in": "path",
    "required": True,
    "description": "The path inside the home folder, without the leading slash.",
    "schema": {"type": "string"},
}
ENTRY = {
    "type": "object",
    "required": ["name", "path", "type", "size", "modified"],
    "properties": {
        "name": {"type": "string"},
        "path": {"type": "string"},
        "type": {"type": "string", "enum": ["file", "folder"]},
        "size": {"type": "integer", "minimum": 0},
        "modified": {"type": "string", "format": "date-time"},
    },
}
LISTING = {
    "type": "object",
    "required": ["path", "entries", "allowed"],
    "properties": {
        "path": {"type": "string"},
        "entries": {"type": "array", "items": _ref("Entry")},
        "allowed": {"type": "array", "items": {"type": "string"}},
    },
}


def _operation(summary: str, answers: dict, *, errors=("400", "401", "403", "404"), **more):
    responses = {**answers, **{code: ERRORS[code] for code in errors}}
    return {"summary": summary, "security": SECURITY, "responses": responses, **more}


def _files() -> dict:
    download = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        **_json(_ref("Listing")),
    }
    return {
        "parameters": [PATH],
        "get": _operation(
            "Download a file (Range supported) or list a folder.",
            {
                "200": {"description": "The file, or the folder listing.", "content": download},
                "206": {"description": "The requested range of the file.", "content": download},
                "416": _answer("The range lies outside the file."),
            },
            parameters=[{"name": "Range", "in": "header", "schema": {"type": "string"}}],
        ),
        "head": _operation("Size and type of a file or folder.", {"200": _answer("Exists.")}),
        "put": _operation(
            "Upload a file (streamed; stored atomically when complete).",
            {"201": _answer("Stored.", _ref("Entry"))},
            errors=("400", "401", "403", "404", "409"),
            requestBody={
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            },
        ),
        "delete": _operation(
            "Delete a file or an empty folder.",
            {"204": _answer("Deleted.")},
            errors=("400", "401", "403", "404", "409"),
        ),
    }


def _login() -> dict:
    body = {
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    }
    return {
        "post": {
            "summary": "Open a session; the answer sets the session cookie.",
            "requestBody": {"required": True, "content": _json(body)},
            "responses": {
                "200": _answer("Logged in.", {"type": "object"}),
                "400": ERRORS["400"],
                "401": _answer("The username or password is not right."),
                "403": _answer("The address is banned."),
            },
        }
    }


def _rename() -> dict:
    body = {
        "type": "object",
        "required": ["source", "destination"],
        "properties": {"source": {"type": "string"}, "destination": {"type": "string"}},
    }
    return {
        "post": _operation(
            "Rename or move a file or folder.",
            {"200": _answer("Renamed.", _ref("Entry"))},
            errors=("400", "401", "403", "404", "409"),
            requestBody={"required": True, "content": _json(body)},
        )
    }


def _simple_get(summary: str, errors=("401", "403")) -> dict:
    answer = {"200": _answer(summary, {"type": "object"})}
    return {method: _operation(summary, answer, errors=errors) for method in ("get", "head")}


def document() -> dict:
    """The whole OpenAPI document (a fresh dict each call)."""
    stat = _simple_get("Stat a file or folder.", errors=("400", "401", "403", "404"))
    stat["get"]["responses"]["200"] = _answer("The entry.", _ref("Entry"))
    return {
        "openapi": "3.0.3",
        "info": {"title": "Appliance file service", "version": __version__},
        "paths": {
            "/api/openapi.json": {
                m: {"summary": "This document.", "responses": {"200": _answer("OpenAPI 3.")}}
                for m in ("get", "head")
            },
            "/api/login": _login(),
            "/api/logout": {
                "post": {"summary": "End the session.", "responses": {"204": _answer("Done.")}}
            },
            "/api/session": _simple_get("The logged-in account."),
            "/api/files/{path}": _files(),
            "/api/folders/{path}": {
                "parameters": [PATH],
                "post": _operation(
                    "Create a folder.",
                    {"201": _answer("Created.", _ref("Entry"))},
                    errors=("400", "401", "403", "404", "409"),
                ),
            },
            "/api/stat/{path}": {"parameters": [PATH], **stat},
            "/api/rename": _rename(),
        },
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "session": {"type": "apiKey", "in": "cookie", "name": "appliance_session"},
            },
            "schemas": {
                "Entry": ENTRY,
                "Listing": LISTING,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
            },
        },
    }
