"""EPCIS 2.0: documents of committed events, the event query interface, and the official schema."""
