"""Tier data (tiers.toml) and the two windows that apply to a key."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from server.database.records import ApiKey
from server.limits import WindowLimit

MINUTE_S = 60
DAY_S = 24 * 60 * 60


@dataclass(frozen=True)
class Tier:
    name: str
    images_per_minute: int
    images_per_day: int


def load_tiers(path: Path | None = None) -> dict[str, Tier]:
    with open(path or Path(__file__).with_name("tiers.toml"), "rb") as fh:
        raw = tomllib.load(fh)["tiers"]
    tiers = {name: Tier(name, int(spec["images_per_minute"]), int(spec["images_per_day"]))
             for name, spec in raw.items()}
    for tier in tiers.values():
        if not 0 < tier.images_per_minute <= tier.images_per_day:
            raise ValueError(f"tier {tier.name}: need 0 < images_per_minute <= images_per_day")
    return tiers


def windows_for(key: ApiKey, tiers: dict[str, Tier]) -> tuple[WindowLimit, WindowLimit]:
    tier = tiers[key.tier]
    minute = key.minute_limit if key.minute_limit is not None else tier.images_per_minute
    day = key.day_limit if key.day_limit is not None else tier.images_per_day
    return WindowLimit("minute", minute, MINUTE_S), WindowLimit("day", day, DAY_S)
