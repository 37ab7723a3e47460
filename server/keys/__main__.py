"""Admin command for API keys: `python -m server.keys create|list|revoke|rotate|webhook-secret|generate`.

`create` and `rotate` print the key alone on the last line of their output (`tail -n1` takes it);
it is shown only then. `create` also makes the key's webhook signing secret (`whsec_…`, printed on the
line before the key), and `webhook-secret KEY_ID` gives a key a new one (printed alone on the last line;
the old one stops signing at once). Uses the server's settings (PERF_DATA_DIR or PERF_DATABASE_URL, PERF_SECRET).
`generate` only prints a new secret, touching no store: for PERF_BOOTSTRAP_KEYS_FILE.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from decimal import Decimal

from server.database import Store, open_store
from server.database.records import ApiKey
from server.jobs.signing import new_secret
from server.keys.issue import create_key, revoke_key, rotate_key
from server.keys.tokens import MODES, generate_key
from server.runtime.config import ServerSettings
from server.runtime.instance_secret import derive_keys, load_secret


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.keys", description="Manage API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--mode", choices=MODES, default="test")
    create.add_argument("--tier", choices=("free", "pro", "enterprise"), default="free")
    create.add_argument("--name", default="")
    create.add_argument("--minute-limit", type=int, help="images per rolling minute (default: the tier's)")
    create.add_argument("--day-limit", type=int, help="images per rolling 24 hours (default: the tier's)")
    create.add_argument("--monthly-cap-usd", type=Decimal, help="refuse requests that would spend more this month")
    create.add_argument("--operator", action="store_true",
                        help="the operator's own key: /v1/usage also shows upstream costs and margins")
    commands.add_parser("list", help="list keys (never their secrets)")
    generate = commands.add_parser("generate", help="print a new key secret without storing it "
                                                    "(for PERF_BOOTSTRAP_KEYS_FILE)")
    generate.add_argument("--mode", choices=MODES, default="live")
    for name, text in (("revoke", "revoke a key by its id (key_…); works on every replica at once"),
                       ("rotate", "give a key a new secret; the old one stops working at once")):
        command = commands.add_parser(name, help=text)
        command.add_argument("key_id")
    webhook = commands.add_parser("webhook-secret", help="give a key a new webhook signing secret (whsec_…) and "
                                                         "print it; the old one stops signing at once")
    webhook.add_argument("key_id")
    args = parser.parse_args(argv)
    if args.command == "generate":
        print(generate_key(args.mode))  # needs no settings and no store
        return 0
    try:
        return asyncio.run(_run(args))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace) -> int:
    settings = ServerSettings.from_env()
    store = await open_store(settings.database_url, settings.data_dir)
    try:
        return await _command(args, store, settings)
    finally:
        await store.close()


async def _command(args: argparse.Namespace, store: Store, settings: ServerSettings) -> int:
    pepper = derive_keys(load_secret(settings.secret, settings.data_dir)).key_pepper
    if args.command == "create":
        cap = None if args.monthly_cap_usd is None else int(args.monthly_cap_usd * 1_000_000)
        key, record = await create_key(store, pepper, mode=args.mode, tier=args.tier, name=args.name,
                                       minute_limit=args.minute_limit, day_limit=args.day_limit,
                                       monthly_cap_micros=cap, operator=args.operator)
        print(f"created {_describe(record)}")
        webhook_secret = new_secret()
        await store.set_webhook_secret(record.id, webhook_secret, int(time.time()))
        print(f"webhook secret {webhook_secret}")
        print(key)
    elif args.command == "list":
        for record in await store.list_keys():
            print(_describe(record))
    elif args.command == "revoke":
        if not await revoke_key(store, args.key_id):
            print(f"no active key with id {args.key_id}", file=sys.stderr)
            return 1
        print(f"revoked {args.key_id}")
    elif args.command == "rotate":
        rotated = await rotate_key(store, pepper, args.key_id)
        if rotated is None:
            print(f"no active key with id {args.key_id}", file=sys.stderr)
            return 1
        print(f"rotated {args.key_id}; the old secret no longer works")
        print(rotated)
    elif args.command == "webhook-secret":
        existing = await store.get_key(args.key_id)
        if existing is None or existing.revoked_at is not None:
            print(f"no active key with id {args.key_id}", file=sys.stderr)
            return 1
        webhook_secret = new_secret()
        await store.set_webhook_secret(args.key_id, webhook_secret, int(time.time()))
        print(f"new webhook secret for {args.key_id}; the old one no longer signs")
        print(webhook_secret)
    return 0


def _describe(key: ApiKey) -> str:
    limits = f"minute={key.minute_limit or 'tier'} day={key.day_limit or 'tier'}"
    cap = f"${key.monthly_cap_micros / 1e6:.2f}/month" if key.monthly_cap_micros is not None else "no cap"
    state = "revoked" if key.revoked_at else "active"
    role = "operator" if key.operator else "customer"
    return f"{key.id}\t{key.mode}\t{key.tier}\t{state}\t{role}\t{key.hint}\t{limits}\t{cap}\t{key.name}"


if __name__ == "__main__":
    sys.exit(main())
