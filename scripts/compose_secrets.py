"""`make compose-secrets`: the files compose.yaml mounts as secrets, in ./secrets/, made once.

Random values for the instance secret and the service passwords; empty files for provider keys
(an empty file means "not configured": fill in the ones you use); a bootstrap keys file holding one
new live key, printed once so it can be handed to its user. An existing file is never overwritten,
so running it again only adds what is missing.

Files are 0644 inside a 0700 directory: compose (without swarm) bind-mounts them as they are, and the
containers' non-root users (ours is uid 10001, PostgreSQL's and SeaweedFS's differ) must read them,
while the directory keeps other users of the host out.
"""
from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from server.keys.tokens import generate_key

PROVIDER_KEYS = ("openai_api_key", "stability_api_key", "bfl_api_key", "ideogram_api_key", "gemini_api_key")


def planned() -> dict[str, str]:
    """File name → contents for every secret compose.yaml mounts (values drawn fresh on each call)."""
    files = {
        "perf_secret": secrets.token_hex(32),
        "postgres_password": secrets.token_urlsafe(24),
        "s3_access_key": "perf" + secrets.token_hex(8),
        "s3_secret_key": secrets.token_urlsafe(30),
        "bootstrap_keys.toml": ("# Keys the servers ensure exist at start (README: Deploy). Add more with\n"
                                "# `python -m server.keys generate --mode live`; revoke with server.keys.\n"
                                f'[[keys]]\nsecret = "{generate_key("live")}"\ntier = "pro"\nname = "first live key"\n'),
    }
    files.update({name: "" for name in PROVIDER_KEYS})
    return files


def write_secrets(folder: Path) -> list[str]:
    """Create the missing files; returns their names."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    made = []
    for name, contents in planned().items():
        path = folder / name
        if path.exists():
            continue
        path.write_text(contents + ("\n" if contents else ""), encoding="utf-8")
        path.chmod(0o644)
        made.append(name)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.compose_secrets", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("secrets"))
    folder = parser.parse_args(argv).dir
    made = write_secrets(folder)
    print(f"{folder}/: created {', '.join(made)}" if made else f"{folder}/: every secret file exists already")
    if "bootstrap_keys.toml" in made:
        secret = (folder / "bootstrap_keys.toml").read_text().split('secret = "')[1].split('"')[0]
        print(f"The first live key (also in {folder}/bootstrap_keys.toml), shown only now:\n{secret}")
    if any(name in made for name in PROVIDER_KEYS):
        print(f"Put the upstream keys you use into {folder}/<provider>_api_key (empty files stay unconfigured).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
