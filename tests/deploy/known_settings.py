"""What the deployment files may set: every environment variable the code itself reads.

Collected from the source (each `env.get("X")`, `env["X"]`, `read_setting(env, "X")`,
`_path(env, "X")` and provider `Setting("X")`), plus `<X>_FILE` for each setting the code reads from
a file, so a misspelt name in compose.yaml or a manifest fails a test instead of being ignored.
"""
from __future__ import annotations

import re
from pathlib import Path

from server.providers.registry import plugins_from_env
from server.runtime.config import SECRET_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
_READ = re.compile(r'(?:env\.get\(|env\[|read_setting\(env, |_path\(env, |Setting\()"([A-Z][A-Z0-9_]+)"')

# Read by code other engineers are landing now (S3 image store, metrics): allowed ahead of it, so
# the deployment files can wire them already. Remove a name here once the code reads it.
PENDING: frozenset[str] = frozenset()
_SECRET = re.compile(r'read_setting\(env, "([A-Z][A-Z0-9_]+)", secret=True\)')


def secret_files() -> frozenset[str]:
    """`<X>_FILE` for every setting the code reads as a secret (whose file exists only in a container)."""
    secret_reads: set[str] = set(SECRET_SETTINGS)
    for folder in ("server", "gateway", "contract"):
        for path in (ROOT / folder).rglob("*.py"):
            secret_reads.update(_SECRET.findall(path.read_text(encoding="utf-8")))
    plugins = plugins_from_env({}).values()
    secret_reads |= {s.env for plugin in plugins for s in plugin.settings if s.secret}
    return frozenset(f"{name}_FILE" for name in secret_reads)


def read_by_code() -> frozenset[str]:
    names: set[str] = set()
    for folder in ("server", "gateway", "contract"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(_READ.findall(path.read_text(encoding="utf-8")))
    plugins = plugins_from_env({}).values()
    names.update(plugin.concurrency_env for plugin in plugins)
    names.update(secret_files())
    return frozenset(names)


def unknown(names: set[str] | frozenset[str]) -> set[str]:
    """The names no code reads (nor will, per PENDING)."""
    return set(names) - read_by_code() - PENDING
