"""The contract both sides share: envelope, canonical JSON, signing, topics, messages, label URLs.

This package depends only on the standard library, ``rfc8785`` and ``cryptography``; neither the
edge agent's nor the server's internals leak into it (DESIGN.md §2-6).
"""

PROTOCOL_VERSION = 1
