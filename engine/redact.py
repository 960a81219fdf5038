"""Masking secrets that travel inside URLs (issue 12, finding 10).

Node and RPC providers put the API key in the URL: Infura
`https://mainnet.infura.io/v3/<key>`, Alchemy `…/v2/<key>`, QuickNode
`https://<name>.quiknode.pro/<token>/`, GetBlock `https://go.getblock.io/<key>/`,
or a query parameter (`?apikey=`), or user:password before the host. Such a
URL is a secret: anything that shows one (errors, logs, status, health)
shows `mask_url(url)` instead, and `mask_urls_in` scrubs free text such as
an exception message that quotes the URL it failed on.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

MASK = "***"
# A path segment or query value this long made of token characters is a
# credential, not a resource name (`v3`, `eth`, `jsonrpc`, `wallet` are short).
TOKEN = re.compile(r"[A-Za-z0-9_\-.~=+]{16,}")
SECRET_PARAMS = re.compile(r"key|token|secret|auth|pass|sig|credential", re.I)
# A URL runs to the first space, control character (ANSI colours), quote or bracket.
URL_IN_TEXT = re.compile(r"\b(?:https?|wss?)://[^\s\x00-\x1f'\"<>()\[\]{}|\\^`]+", re.I)


def _mask_segment(segment: str) -> str:
    return MASK if TOKEN.search(segment) else segment


def mask_url(url: str) -> str:
    """`url` with user info, token-like path segments and secret-looking
    query values replaced by ***; scheme, host, port and plain path kept, so
    an operator can still tell endpoints apart."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return _mask_segment(url) if url else url
    netloc = (
        (f"{MASK}@" if parts.username or parts.password else "")
        + (f"[{host}]" if ":" in host else host)
        + port
    )
    path = "/".join(_mask_segment(segment) for segment in parts.path.split("/"))
    query = "&".join(
        f"{name}={MASK if SECRET_PARAMS.search(name) or TOKEN.search(value) else value}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def mask_urls_in(text: str) -> str:
    """Every URL inside `text` masked with mask_url."""
    if "://" not in text:
        return text
    return URL_IN_TEXT.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    """A URL in prose: a trailing `,` `.` `;` `:` ends the sentence, not the URL."""
    found = match.group(0)
    url = found.rstrip(".,;:!?")
    return mask_url(url) + found[len(url) :]
