"""The API's request body parser: JSON, refused as a 400 when it is nested too deeply.

Python's json module recurses once per level: a body of 100,000 `[` raises RecursionError,
which DRF's parser lets through as a 500. A body too large for DATA_UPLOAD_MAX_MEMORY_SIZE is
refused before parsing (413, in integrations.errors)."""

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
