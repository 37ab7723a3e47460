"""Provider adapters: each turns a GenerationJob into images, behind the one interface in base.py."""
