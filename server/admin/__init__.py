"""The operator's admin API (perf.admin.v1.AdminService): its own token, never the public API keys."""
