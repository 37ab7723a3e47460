"""The side-by-side benchmark of our stack and LiteLLM's proxy (`make bench-compare`); see run.py."""
