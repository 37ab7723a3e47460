"""The process: settings, wiring, call wrappers, per-call context, background work, health probe."""
