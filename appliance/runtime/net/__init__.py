"""Network pieces every service shares: TLS settings, PROXY protocol v2, socket options."""
