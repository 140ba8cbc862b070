"""Who may talk to the tablet agent: the page it serves, and nothing else on the tablet.

The agent listens on loopback, but any web page open in the tablet's browser can reach
loopback too. Three rules keep such a page out, each a plain function of the request's
method, path and headers (``web.create_agent_app`` runs them before every request):

- the ``Host`` must be the agent's own (``127.0.0.1``, ``localhost`` or ``[::1]``, on its
  port): a page that rebinds its own name to 127.0.0.1 still sends its own name, and is
  refused ``wrong_host``;
- a write (anything but GET/HEAD/OPTIONS) with an ``Origin`` other than the agent's own
  is refused ``cross_origin``: a plain cross-site form cannot stop a stream or sign in;
- a write to ``/local/*`` must carry the session token the agent put in its page
  (``X-Tablet-Token``), which no other origin can read: else ``tablet_token_required``.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from ems_contracts.codes import ErrorCode as E

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_HEADER = "X-Tablet-Token"


@dataclass(frozen=True)
class Refusal:
    status: int
    code: E
    detail: str


def split_host(host: str) -> tuple[str, str]:
    """``name:port`` → (name, port); an IPv6 name keeps its brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest.removeprefix(":")
    name, _, port = host.partition(":")
    return name, port


def is_loopback(host: str) -> bool:
    """A listen address the CLI accepts: a loopback name or address."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(host: str, port: int | None) -> bool:
    """The agent's own ``Host``; ``port`` None accepts any port of a loopback name (an
    app not told where it listens, as in tests)."""
    name, got_port = split_host(host)
    if name not in LOOPBACK_NAMES:
        return False
    if port is None:
        return True
    return got_port == str(port) or (got_port == "" and port == 80)


def check(
    *,
    method: str,
    path: str,
    host: str,
    origin: str | None,
    token: str | None,
    session_token: str,
    port: int | None,
) -> Refusal | None:
    """The refusal for this request, or None to let it through."""
    if not host_allowed(host, port):
        return Refusal(421, E.WRONG_HOST, "this agent answers only on its own address")
    if method.upper() in SAFE_METHODS:
        return None
    if origin is not None and origin.rstrip("/").lower() != f"http://{host.strip().lower()}":
        return Refusal(403, E.CROSS_ORIGIN, "writes come from the tablet page only")
    if path.startswith("/local/") and not (
        token and hmac.compare_digest(token.encode(), session_token.encode())
    ):
        return Refusal(403, E.TABLET_TOKEN_REQUIRED, "reload the tablet page")
    return None
