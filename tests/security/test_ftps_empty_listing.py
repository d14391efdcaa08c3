"""Known open defect: listing an empty folder over implicit FTPS with PROT P.

ftplib's NLST of an empty folder fails on the client with SSL SHUTDOWN_WHILE_IN_INIT in
about one attempt out of five (measured: 9 of 40), never for a folder with a file in it: the
server seems to close the TLS data connection before its handshake is complete when there
is nothing to send. Not fixed yet; this test shows it (non-strict xfail, as it is
intermittent) and passes once the runtime is fixed.
"""

from __future__ import annotations

import pytest

from tests.ftp_helpers import ImplicitFTP_TLS, insecure_context
from tests.security.site import PASSWORDS, security_site


@pytest.mark.xfail(reason="open defect: empty PROT P listing over FTPS, see module docstring")
def test_empty_listing_over_ftps(tmp_path):
    with security_site(tmp_path, passive=(62560, 62579)) as app:
        for _ in range(40):
            client = ImplicitFTP_TLS(context=insecure_context())
            client.connect("127.0.0.1", app.port("ftps"), timeout=20)
            client.login("alice", PASSWORDS["alice"])
            client.prot_p()
            assert client.nlst() == []
            client.quit()
