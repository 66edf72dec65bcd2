"""firmware_config package."""
