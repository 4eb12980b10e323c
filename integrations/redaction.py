"""One place that knows what a secret looks like, used by the log filter, audit diffs and error
messages. It errs on the side of hiding: a false positive costs a log reader a value, a false
negative leaks a credential."""

import re
from collections.abc import Mapping

REDACTED = "[REDACTED]"

# Keys whose values are secret whatever they hold (matched case-insensitively, as substrings,
# so "new_password", "X-Api-Key" and "hubspot_refresh_token" are all caught).
_SECRET_KEY = re.compile(
    r"pass(word|wd)|secret|token|authorization|api[-_]?key|cookie|private[-_]?key|signature|"
    r"credential|sessionid",
    re.IGNORECASE,
)

_PATTERNS: tuple[tuple[re.Pattern, str], ...] = (
    # Authorization: Bearer/Basic/Token <value>, as a header line, a dict repr or JSON.
    (
        re.compile(r"""(?i)((?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^"'\r\n,}]+"""),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    # key=value, "key": "value", 'key': 'value' for the usual credential names (a value
    # already redacted is left alone: the log filter redacts arguments, then the message).
    (
        re.compile(
            r"""(?i)((?:access|refresh|id)_token|client_secret|password|passwd|api_?key|secret"""
            r"""|token|code_verifier)(["']?\s*[:=]\s*["']?)(?!\[REDACTED\])[^"'\s&,;}\]]+"""
        ),
        r"\1\2" + REDACTED,
    ),
    # An authorization code or state in a callback URL (single-use, but a secret until used).
    (re.compile(r"([?&](?:code|state)=)[^&\s'\"#]+"), r"\1" + REDACTED),
    # A JWT anywhere (three base64url parts, the first starting with {" encoded).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # A Supabase secret key (the new kind, not a JWT).
    (re.compile(r"\bsb_secret_[A-Za-z0-9_-]+"), REDACTED),
    # user:password@ in a URL (broker and database URLs end up in error messages).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]+@"), r"\1:" + REDACTED + "@"),
)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_data(value: object, _depth: int = 0) -> object:
    """A copy of `value` with secret-named keys masked and secret-looking strings redacted.
    Containers are walked (to a sane depth); other objects are returned untouched."""
    if _depth > 8:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if is_secret_key(key) and item not in (None, "")
            else redact_data(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, tuple):  # stays a tuple: log records %-format their args with it
        return tuple(redact_data(item, _depth + 1) for item in value)
    if isinstance(value, list | set | frozenset):
        return [redact_data(item, _depth + 1) for item in value]
    return value
