"""What one HTTP(S) listener shares between its routes: settings, sessions and the runtime."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.config import Section
from appliance.runtime.context import RuntimeContext
from appliance.runtime.services.http.peers import Network, parse_networks
from appliance.runtime.services.http.sessions import (
    Sessions,
    TokenSigner,
    load_or_create_key,
    read_key,
)


@dataclass
class HTTPState:
    context: RuntimeContext
    service_id: str
    https: bool
    sessions: Sessions
    trusted_proxies: tuple[Network, ...]
    forwarded_header: str | None
    accepted_origins: frozenset[str]
    proxy_protocol_from: tuple[str, ...] = ()
    """Trusted balancers sending PROXY protocol v2 (trusted_proxies without a forwarded
    header); empty when the service takes no PROXY header."""

    @property
    def component(self) -> str:
        return f"services/{self.service_id}"

    @property
    def protocol(self) -> str:
        return "https" if self.https else "http"

    @classmethod
    def from_section(cls, section: Section, context: RuntimeContext) -> HTTPState:
        options = section.options
        server = context.config.server.options
        proxies = options.get("trusted_proxies") or server.get("trusted_proxies") or []
        shared_key = context.config.server.path("http_session_key")
        key = read_key(shared_key) if shared_key else load_or_create_key(context.config.data_folder)
        return cls(
            context=context,
            service_id=section.id,
            https=section.type == "https",
            sessions=Sessions(
                TokenSigner(key),
                int(options.get("session_timeout", 900)),
                lambda: context.shared_state,
            ),
            trusted_proxies=parse_networks(proxies),
            forwarded_header=options.get("client_forwarded_header"),
            accepted_origins=frozenset(options.get("accepted_origins") or ()),
            proxy_protocol_from=()
            if options.get("client_forwarded_header")
            else tuple(str(network) for network in parse_networks(proxies)),
        )
