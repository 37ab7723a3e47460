"""Limits and money: image rate limits by tier, monthly spend caps, and the usage ledger."""
