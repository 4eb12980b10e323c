"""The API's request body parser: JSON, refused as a 400 when it is nested too deeply or holds
text no database of ours can store.

Python's json module recurses once per level: a body of 100,000 `[` raises RecursionError,
which DRF's parser lets through as a 500. PostgreSQL stores no NUL character (in text or in
jsonb) and no lone surrogate, so a value with one failed at the INSERT as a 500; DRF's text
fields refuse them, but JSON fields and keys took them. A body too large for
DATA_UPLOAD_MAX_MEMORY_SIZE is refused before parsing (413, in integrations.errors)."""

import re

from rest_framework import exceptions, parsers

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        if _has_unstorable_text(data):
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
