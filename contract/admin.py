"""What the gateway and the server agree on for the admin API (perf.admin.v1.AdminService)."""
from __future__ import annotations

# gRPC metadata carrying the HTTP client's address, which the server rate-limits failed sign-ins by.
# The server trusts it from whoever reaches its gRPC port: that port is internal (only gateways), as
# for every other metadata value; a caller without it is limited by its own peer address.
CLIENT_ADDRESS_METADATA = "x-perf-client-address"
