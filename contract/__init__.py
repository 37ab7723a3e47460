"""What the server and the gateway share: the public error table and request ids, and the process
plumbing both run on (event loop, allocator, logs, tracing, TLS, metric children)."""
