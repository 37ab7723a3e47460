"""Fake upstream image providers (one aiohttp app per provider) for socket-level adapter tests.

Each ``make_app(knobs, charges)`` factory returns an ``aiohttp.web.Application`` that speaks the
provider's real wire protocol (see /work/shared/providers.md); ``server.running`` /
``server.FakeServer`` put one on an ephemeral loopback port.
"""
