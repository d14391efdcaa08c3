"""Bind to each LDAP URI from this node; exit 1 with a plain reason when none works.

Run by the appliance_ldap role with the appliance's virtualenv Python (it has ldap3).
"""

import argparse
import ssl
import sys

import ldap3
from ldap3.core.exceptions import LDAPException


def check(url, args):
    tls = ldap3.Tls(
        validate=ssl.CERT_REQUIRED if args.validate else ssl.CERT_NONE,
        ca_certs_file=args.ca_certificate,
    )
    server = ldap3.Server(url, tls=tls, connect_timeout=args.timeout, get_info=ldap3.NONE)
    password = None
    if args.password_file:
        with open(args.password_file, encoding="utf-8") as stream:
            password = stream.read().rstrip("\r\n")
    connection = ldap3.Connection(
        server, user=args.bind_dn, password=password, receive_timeout=args.timeout
    )
    connection.open()
    if args.start_tls and not url.startswith("ldaps://"):
        connection.start_tls()
    if not connection.bind():
        raise LDAPException(f"bind refused: {connection.result.get('description')}")
    connection.unbind()


def reason(error):
    text = str(error)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            "the server certificate does not verify against the CA bundle "
            f"({text}); expected a certificate signed by the configured CA"
        )
    if "socket" in text.lower() or "connect" in text.lower() or "refused" in text.lower():
        return f"unreachable ({text}); expected an LDAP server listening there"
    return text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--timeout", type=int, default=5)
    parser.add_argument("--start-tls", action="store_true")
    parser.add_argument("--no-validate", dest="validate", action="store_false")
    parser.add_argument("--ca-certificate")
    parser.add_argument("--bind-dn")
    parser.add_argument("--password-file")
    args = parser.parse_args()
    failures = []
    for url in args.urls:
        try:
            check(url, args)
        except (LDAPException, OSError, ssl.SSLError) as error:
            failures.append(f"{url}: {reason(error)}")
            continue
        print(f"{url}: bind as {args.bind_dn or 'anonymous'} succeeded")
        for line in failures:
            print(f"(failed over from) {line}")
        return 0
    print("LDAP bind check failed from this node:", file=sys.stderr)
    for line in failures:
        print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
