"""Form templates (TOML), one per official form; see ``documents.layout``."""
