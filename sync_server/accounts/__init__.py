"""Office accounts, API tokens and sessions."""
