"""Admin command for API keys: `python -m server.keys create|list|revoke`.

`create` prints the new key alone on the last line of its output, so scripts can take `tail -n1`.
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from server.config import ServerSettings
from server.instance_secret import derive_keys, load_secret
from server.keys.issue import TIERS, create_key, revoke_key
from server.keys.tokens import MODES
from server.store.sqlite import SqliteStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.keys", description="Manage API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--mode", choices=MODES, default="test")
    create.add_argument("--tier", choices=TIERS, default="free")
    create.add_argument("--name", default="")
    commands.add_parser("list", help="list keys (never their secrets)")
    revoke = commands.add_parser("revoke", help="revoke a key by its id (key_…)")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    settings = ServerSettings.from_env()
    store = SqliteStore(settings.data_dir / "perf.sqlite3")
    try:
        if args.command == "create":
            pepper = derive_keys(load_secret(settings.secret, settings.data_dir)).key_pepper
            key, record = await create_key(store, pepper, mode=args.mode, tier=args.tier, name=args.name)
            print(f"created {record.id} mode={record.mode} tier={record.tier} name={record.name!r}")
            print(key)
        elif args.command == "list":
            for k in await store.list_keys():
                state = "revoked" if k.revoked_at else "active"
                print(f"{k.id}\t{k.mode}\t{k.tier}\t{state}\t{k.hint}\t{k.name}")
        elif args.command == "revoke":
            if not await revoke_key(store, args.key_id):
                print(f"no active key with id {args.key_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.key_id}")
        return 0
    finally:
        await store.close()


if __name__ == "__main__":
    sys.exit(main())
