"""The running agent: journal, catalog, printer, cameras, uploader and sync worker, wired from
one config."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge_agent.camera.blobs import BlobStore
from edge_agent.camera.errors import CameraError
from edge_agent.camera_service import COMMAND, CameraService
from edge_agent.catalog_store import load_catalog, store_catalog
from edge_agent.clock import Clock
from edge_agent.config import EdgeConfig
from edge_agent.database import open_edge_db
from edge_agent.journal import Journal
from edge_agent.print_queue import PrintQueue
from edge_agent.projections import project
from edge_agent.sync import SyncWorker
from edge_agent.uploader import Uploader
from label_printer.printers import open_printer
from trace_protocol.catalog import Catalog
from trace_protocol.messages import CONTINUE, REKEY, SNAPSHOT, Ack, Command
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import load_or_create_label_key

log = logging.getLogger(__name__)
VERSION = "0.1.0"


@dataclass
class Agent:
    config: EdgeConfig
    journal: Journal
    cameras: CameraService
    uploader: Uploader
    print_queue: PrintQueue
    sync: SyncWorker | None = field(default=None)
    # Called when the agent must start again with a new identity (edge_agent/service.py).
    on_restart: Callable[[], None] | None = field(default=None)

    def catalog(self) -> Catalog | None:
        with self.journal.store.read() as db:
            return load_catalog(db)

    def accept_catalog(self, catalog: Catalog) -> bool:
        """Store a catalog from the config topic or a file; older versions are ignored."""
        with self.journal.store.transaction() as db:
            stored = store_catalog(db, catalog)
        if stored:
            log.info(
                "catalog version %s stored (%s products)", catalog.version, len(catalog.products)
            )
        return stored

    def written(self) -> None:
        """Called after the UI appended an event, so sync can push it at once."""
        if self.sync is not None:
            self.sync.notify()

    def status_extra(self) -> dict[str, Any]:
        """Facts for the status topic beyond the journal: disk, printer, catalog, cameras."""
        catalog = self.catalog()
        return {
            "disk_free_mb": shutil.disk_usage(self.config.data_dir).free // 1_000_000,
            "printer": self.config.printer.kind,
            "catalog_version": catalog.version if catalog else None,
            "uploads_pending": len(self.uploader.pending()),
            **self.cameras.status(),
        }

    def upload_base_url(self) -> str | None:
        if self.config.upload.server_url:
            return self.config.upload.server_url
        catalog = self.catalog()
        return catalog.public_base_url if catalog else None

    def on_ack(self, ack: Ack) -> None:
        """Acked events may release photos for upload; the server may say what it lacks."""
        self.uploader.server_misses(ack.missing_blobs)
        self.uploader.notify()

    def on_command(self, cmd: Command) -> None:
        if cmd.name == SNAPSHOT:
            try:
                self.cameras.capture(str(cmd.args["camera"]), COMMAND)
            except CameraError as exc:
                log.warning("snapshot command: %s", exc)
        elif cmd.name == CONTINUE:
            self._continue(str(cmd.args["dev"]), str(cmd.args["token"]))
        elif cmd.name == REKEY:
            self._rekey(str(cmd.args["token"]))
        else:
            log.warning("command %r not supported", cmd.name)

    def _continue(self, new_dev: str, token: str) -> None:
        """The office decided that this blocked device continues as ``new_dev``."""
        from edge_agent.continuation import ContinuationError, continue_as

        if self.journal.sync_state().blocked is None:
            log.warning("continue command ignored: sync is not blocked")
            return
        try:
            continue_as(self.config, self.journal, new_dev, token, self.upload_base_url())
        except ContinuationError as exc:
            log.error("could not continue as %s: %s", new_dev, exc)
            return
        if self.on_restart is not None:
            self.on_restart()

    def _rekey(self, token: str) -> None:
        """The office rotated this device's broker password (edge_agent/rekey.py)."""
        from edge_agent.rekey import RekeyError, rekey

        try:
            password = rekey(
                self.config, self.journal.dev, token, self.catalog(), self.upload_base_url()
            )
        except RekeyError as exc:
            log.error("could not take the new broker password: %s", exc)
            return
        if self.sync is not None:
            self.sync.use_password(password)

    def start(self) -> None:
        self.print_queue.start()
        self.cameras.start()
        self.uploader.start()
        if self.sync is not None:
            self.sync.start()

    def stop(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        self.uploader.stop()
        self.cameras.stop()
        self.print_queue.stop()

    def close(self) -> None:
        """Close the journal file's connections (after :meth:`stop`, or when never started)."""
        self.journal.close()

    def link_state(self) -> tuple[str, str]:
        return self.sync.link_state() if self.sync else ("disabled", "")


def open_agent(config: EdgeConfig, *, with_sync: bool = True) -> Agent:
    """Open the journal (making the device key on first boot) and, optionally, the sync worker."""
    key = DeviceKey.load_or_create(config.key_path)
    journal = Journal(
        open_edge_db(config.journal_path),
        key,
        config.device_id,
        Clock(config.assume_clock_synced),
        project,
    )
    store = BlobStore(config.photo_dir)
    agent = Agent(
        config=config,
        journal=journal,
        # The lambdas reach the agent once it exists: photos wake sync, uploads ask for the URL.
        cameras=CameraService(journal, config, store, on_photo=lambda: agent.written()),
        uploader=Uploader(journal, config, store, lambda: agent.upload_base_url()),
        print_queue=PrintQueue(
            journal,
            lambda: agent.catalog(),
            load_or_create_label_key(config.label_key_path),
            open_printer(config.printer_url),
        ),
    )
    if with_sync:
        agent.sync = SyncWorker(
            journal,
            config,
            password=config.mqtt_password(),
            password_source=config.mqtt_password,
            on_catalog=agent.accept_catalog,
            version=VERSION,
            status_extra=agent.status_extra,
            on_ack=agent.on_ack,
            on_command=agent.on_command,
        )
    return agent
