"""TLS for TCP monitors, from a directory laid out as QEMU's ``tls-creds-x509`` reads it.

``ca-cert.pem`` (the CA that signs client certificates), ``server-cert.pem`` and
``server-key.pem``, optionally ``dh-params.pem``: a directory made for QEMU works here
unchanged.  With ``verify-peer`` on (the default, as QEMU's) a client must present a
certificate signed by that CA, or the handshake fails and it never sees the greeting.
TLS 1.2 is the floor.  The one rule: a setting that cannot be honoured is an error at
start-up naming the file, never a monitor that quietly serves plain text.
"""

from __future__ import annotations

import os
import ssl
from typing import Any, NamedTuple

from .errors import ServerError

CA_CERT = "ca-cert.pem"
SERVER_CERT = "server-cert.pem"
SERVER_KEY = "server-key.pem"
DH_PARAMS = "dh-params.pem"


class TLSSetupError(ServerError):
    """The credentials directory cannot be used; the message names the file and why."""


class TLSCredentials(NamedTuple):
    """Where the x509 files are, and whether clients must present a certificate."""

    directory: str
    verify_peer: bool = True

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)


def server_context(credentials: TLSCredentials) -> ssl.SSLContext:
    """An SSL context for a monitor listener, or :class:`TLSSetupError`."""
    if not os.path.isdir(credentials.directory):
        raise TLSSetupError(f"tls-creds directory '{credentials.directory}' does not exist")
    required = [SERVER_CERT, SERVER_KEY] + ([CA_CERT] if credentials.verify_peer else [])
    for name in required:
        if not os.path.isfile(credentials.path(name)):
            raise TLSSetupError(
                f"tls-creds directory '{credentials.directory}' has no {name} "
                f"(expected {', '.join(required)})"
            )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(
        credentials,
        SERVER_CERT,
        context.load_cert_chain,
        credentials.path(SERVER_CERT),
        credentials.path(SERVER_KEY),
    )
    if os.path.isfile(credentials.path(CA_CERT)):
        _load(credentials, CA_CERT, context.load_verify_locations, credentials.path(CA_CERT))
    if os.path.isfile(credentials.path(DH_PARAMS)):
        _load(credentials, DH_PARAMS, context.load_dh_params, credentials.path(DH_PARAMS))
    context.verify_mode = ssl.CERT_REQUIRED if credentials.verify_peer else ssl.CERT_NONE
    return context


def _load(credentials: TLSCredentials, name: str, load: Any, *paths: str) -> None:
    try:
        load(*paths)
    except (OSError, ssl.SSLError, ValueError) as error:
        raise TLSSetupError(
            f"tls-creds directory '{credentials.directory}': cannot use {name}: {error}"
        ) from None


def peer_subject(peercert: Any) -> str | None:
    """A client certificate's subject as ``CN=...,O=...``, or None without one."""
    if not peercert:
        return None
    parts = [f"{key}={value}" for rdn in peercert.get("subject", ()) for key, value in rdn]
    return ",".join(parts) or None
