"""The OAuth 2.0 authorization-code flow: PKCE (S256) where the provider accepts it, a
single-use `state` bound to the user, workspace and provider, the callback, the popup page
that reports back to the opener, and the status endpoint it polls."""
