"""The one request path: validate, limit, route, generate, store, account; and the gRPC service on it."""
