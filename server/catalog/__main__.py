"""`python -m server.catalog check [--days N] [--live]`: the lifecycle table, and whether it will hold.
`python -m server.catalog capabilities`: what each model can do today (the table in README.md).

Prints every public model with the deployment serving it today and that deployment's dates (and
its fallbacks), then every deployment. Exits 1 when some public model would be left without a live deployment within
`--days` (default 30), so a scheduled job can page someone before the day. `--live` also asks each
configured upstream's own model listing (OpenAI's carries shutdown dates; Gemini's says what still
exists) and exits 1 when a deployment in use is gone upstream or shuts down upstream sooner than the
catalog says. Reads the server's settings (PERF_CATALOG_PATH, PERF_LIFECYCLE_TODAY, provider keys).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Mapping
from typing import cast

from server.catalog import Catalog, load_catalog
from server.catalog.capabilities import markdown_table
from server.catalog.lifecycle import Lifecycles
from server.providers.base import ModelLister
from server.providers.plugin import ProviderPlugin
from server.providers.registry import plugins_from_env, start_live_providers
from server.runtime.config import ServerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.catalog", description="Catalog lifecycle.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="print the lifecycle table; fail if a model will be left unserved")
    check.add_argument("--days", type=int, default=30, help="how far ahead a model must stay served (default 30)")
    check.add_argument("--live", action="store_true", help="also ask each configured upstream's model listing")
    commands.add_parser("capabilities", help="print what each model can do today, as a markdown table")
    args = parser.parse_args(argv)
    settings = ServerSettings.from_env()
    plugins = plugins_from_env(settings.providers.env)
    catalog = load_catalog(settings.catalog_path, providers=plugins)
    today = settings.today()
    if args.command == "capabilities":
        print(markdown_table(catalog, Lifecycles(catalog, lambda: today)))
        return 0
    failures = table(catalog, today, args.days)
    if args.live:
        failures += asyncio.run(live_check(catalog, today, settings, plugins))
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


def table(catalog: Catalog, today: dt.date, days: int) -> list[str]:
    """Print the lifecycle table; the failures: models without a live deployment within `days`."""
    lifecycles = Lifecycles(catalog, lambda: today)
    print(f"lifecycle on {today} (checking {days} days ahead)")
    print(f"{'model':<24} {'status':<10} {'served by':<34} {'deprecated':<11} {'shutdown':<11} days left")
    failures = []
    for model in catalog.models.values():
        view = lifecycles.view(model)
        served = f"{view.served_by.provider}/{view.served_by.upstream_model}" if view.served_by else "-"
        left = view.days_to_shutdown(today)
        print(f"{model.id:<24} {view.status:<10} {served:<34} {_day(view.deprecated_on):<11} "
              f"{_day(view.shutdown_on):<11} {'' if left is None else left}")
        for fallback in lifecycles.live_chain(model)[1:]:
            print(f"{'':<24} {'fallback':<10} {fallback.provider}/{fallback.upstream_model}")
        for offset in range(days + 1):
            day = today + dt.timedelta(days=offset)
            if lifecycles.serving(model, day) is None:
                failures.append(f"{model.id} has no live deployment from {day}: add a successor to its chain")
                break
    print()
    print(f"{'deployment':<40} {'provider':<10} {'upstream model':<26} {'shutdown':<11} successor")
    for deployment in catalog.deployments.values():
        life = deployment.lifecycle
        print(f"{deployment.id:<40} {deployment.provider:<10} {deployment.upstream_model:<26} "
              f"{_day(life.shutdown_on):<11} {life.successor or ''}")
    return failures


async def live_check(catalog: Catalog, today: dt.date, settings: ServerSettings,
                     plugins: Mapping[str, ProviderPlugin]) -> list[str]:
    """Compare the deployments in use with what each configured upstream lists today."""
    lifecycles = Lifecycles(catalog, lambda: today)
    in_use = {d.id: d for m in catalog.models.values() if (d := lifecycles.serving(m)) is not None}
    live = await start_live_providers(settings.providers, plugins)
    failures: list[str] = []
    print()
    try:
        for provider_id, provider in sorted(live.providers.items()):
            if not plugins[provider_id].capabilities.list_models:
                print(f"{provider_id}: no model listing to ask (lifecycle kept by hand in the catalog)")
                continue
            listed = {m.id: m.shutdown_date for m in await cast(ModelLister, provider).list_models()}
            print(f"{provider_id}: {len(listed)} models listed upstream")
            for deployment in (d for d in catalog.deployments.values() if d.provider == provider_id):
                used = "in use" if deployment.id in in_use else "not in use"
                if deployment.upstream_model not in listed:
                    print(f"  {deployment.id}: {deployment.upstream_model} is GONE upstream ({used})")
                    if deployment.id in in_use:
                        failures.append(f"{deployment.id} serves traffic but {deployment.upstream_model} is gone "
                                        f"upstream")
                    continue
                upstream_day = listed[deployment.upstream_model]
                ours = deployment.lifecycle.shutdown_on
                if upstream_day and (ours is None or dt.date.fromisoformat(upstream_day) < ours):
                    print(f"  {deployment.id}: upstream shuts {deployment.upstream_model} down on {upstream_day}, "
                          f"the catalog says {_day(ours)} ({used})")
                    if deployment.id in in_use:
                        failures.append(f"{deployment.id}: {deployment.provider} shuts it down on {upstream_day}; "
                                        "set shutdown_on and a successor")
    finally:
        await live.close()
    return failures


def _day(day: dt.date | None) -> str:
    return day.isoformat() if day else "-"


if __name__ == "__main__":
    sys.exit(main())
