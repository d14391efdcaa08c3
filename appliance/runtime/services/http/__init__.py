"""The HTTP and HTTPS file service: browser file manager, JSON API with OpenAPI, redirect.

Starlette on uvicorn, inside the runtime's asyncio loop (chosen by measurement: see
bench/http_bench.py). The service is an adapter: AAA decides who may log in, the
VirtualFS what they may do, and the event bus records it.
"""

from __future__ import annotations

from appliance.runtime.services.http.service import HTTPRedirectService, HTTPService

__all__ = ["HTTPRedirectService", "HTTPService"]
