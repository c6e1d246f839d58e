"""The ``baoxue`` command line (typer): ``cli.main`` holds the app and the small commands,
one module per group of commands beside it (``keys``, ``ledger``, ``outbox``, ``people``,
``scheduler``), and ``cli.common`` what they share. Wiring, like ``bot/``: it may import
every package below it, and nothing imports it.
"""
