"""Understanding a parent's message: the intent catalog, text normalization, the matcher."""
