"""ocop_cli package."""
