"""Camera eyes ("mắt thần"): frame sources, health verdicts and content-addressed snapshots.

Import what you need from the modules: ``sources`` (``open_source``), ``health``
(``HealthMonitor``), ``snapshot`` (``take_snapshot``, ``BlobStore``) and ``cli`` (``ocop camera``).
See docs/cameras.md.
"""
