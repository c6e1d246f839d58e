"""The web side for people (the officers' console, to come): FastAPI pages over casework.

It imports casework, models and documents, never handlers/ or conversations/ (the
Telegram adapter) nor bot/ (``tests/test_layers.py`` keeps it so). Telegram's webhook
endpoint is the bot's transport, not a page: it lives in ``bot.webhook``.
"""
