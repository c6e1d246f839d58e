"""The design documents' generated parts (``python -m docs.gen``); see ``ARCHITECTURE.md``."""
