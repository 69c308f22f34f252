"""Which address a request really came from, for rate limits and sign-in throttles.

Behind a reverse proxy every request seems to come from the proxy, and a client can write any
`X-Forwarded-For` it likes. So the header is believed only when the connection itself comes from a proxy we
were told to trust (``PORTER_TRUSTED_PROXIES``: addresses or networks, comma-separated, e.g.
``127.0.0.1,10.0.0.0/8``), and then only the hops those proxies added: reading from the right, the first
address that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from functools import lru_cache
from typing import Optional, Tuple, Union

logger = logging.getLogger(__name__)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@lru_cache(maxsize=8)
def _parse(setting: str) -> Tuple[Network, ...]:
    networks = []
    for part in setting.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            logger.warning("PORTER_TRUSTED_PROXIES: %r is not an address or network; ignored", part)
    return tuple(networks)


def trusted_proxies() -> Tuple[Network, ...]:
    return _parse(os.environ.get("PORTER_TRUSTED_PROXIES", ""))


def _is_trusted(address: str, networks: Tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(
    peer: Optional[str], forwarded_for: Optional[str], networks: Optional[Tuple[Network, ...]] = None
) -> str:
    """The client's address: the peer itself, unless the peer is a trusted proxy and says whom it forwards."""
    networks = trusted_proxies() if networks is None else networks
    peer = (peer or "").strip() or "unknown"
    if not forwarded_for or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")[-20:] if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a proxy we trust passed on garbage: count it against the proxy
    return peer


def of_request(request) -> str:
    """The client address of a Sanic request (the socket peer is ``request.ip``)."""
    return client_address(request.ip, request.headers.get("x-forwarded-for"))
