"""The built-in upstream adapters, one module per provider; each ends with its PROVIDER declaration."""
