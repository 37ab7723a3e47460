"""Durable state (API keys for now) behind one async interface; SQLite is the embedded default."""
