"""Images we generated: where the bytes live, how their URLs are signed, when they are deleted."""
