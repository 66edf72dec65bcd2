"""The server's storage: tables and migrations, blobs, backups, and the small tables every
subsystem writes (alerts, throttles)."""
