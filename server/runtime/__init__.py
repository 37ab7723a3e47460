"""The process: settings, wiring, interceptors, per-call context, background work, health probe."""
