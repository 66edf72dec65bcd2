"""The fleet: the registry, enrolment, broker credentials, catalogs sent to devices, liveness and
the CLI's device reports."""
