"""The API's request body parser: JSON, refused as a 400 when it is nested too deeply or holds
text no database of ours can store.

Python's json module recurses once per level: a body of 100,000 `[` raises RecursionError,
which DRF's parser lets through as a 500. PostgreSQL stores no NUL character (in text or in
jsonb) and no lone surrogate, so a value with one failed at the INSERT as a 500; DRF's text
fields refuse them, but JSON fields and keys took them. A body too large for
DATA_UPLOAD_MAX_MEMORY_SIZE is refused before parsing (413, in integrations.errors)."""

import io
import re

from rest_framework import exceptions, parsers
from rest_framework.parsers import get_encoding

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# In a UTF-8 body, such a character can only be written as an escape (JSON refuses a raw
# control character in a string, and UTF-8 has no surrogates): a body without one of these
# holds none, and its parsed values need no walk through every string (a few per cent of the
# hub's work for a request of 100 records, bench/destination.py). An escaped backslash before
# a `u` matches too: that body is only walked.
ESCAPED_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
UTF8 = {"utf-8", "utf8"}


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        walk = True
        if stream is not None and get_encoding(parser_context or {}).lower() in UTF8:
            body = stream.read()
            walk = ESCAPED_UNSTORABLE.search(body) is not None
            stream = io.BytesIO(body)
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        if walk and _has_unstorable_text(data):
            raise exceptions.ParseError(
                "JSON parse error - text may not contain NUL characters or lone surrogates."
            )
        return data


def _has_unstorable_text(value) -> bool:
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
