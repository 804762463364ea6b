"""Registry Search: search and discovery for CNCF distribution registries."""

__version__ = "0.1.0"

USER_AGENT = f"regsearch/{__version__}"
"""How Registry Search introduces itself to registries; its own pulls are not counted."""
