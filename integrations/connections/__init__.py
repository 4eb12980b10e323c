"""Connections: one link to a provider account (Connection, its tokens encrypted), the OAuth
consent flow (`oauth/`), one module per provider on its official SDK (`providers/`), the one
HTTP way out (`http.py`: retries, Retry-After, token buckets, call counting), and one client
per connection (`services.client`) that owns the token and its single refresh on a 401."""
