"""Durable async image jobs and their signed webhooks (README "Jobs and webhooks")."""
