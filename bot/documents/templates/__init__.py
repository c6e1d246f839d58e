"""Form templates (TOML), one per official form; see ``bot.documents.layout``."""
