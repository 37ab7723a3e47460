"""API keys: their format, their digests, and turning an Authorization header into a caller."""
