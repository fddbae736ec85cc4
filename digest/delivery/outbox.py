"""The local outbox: one .eml file per recipient, for previews, tests and air-gapped setups.

Files are named ``<edition id>.<subscriber id>.eml`` so a rerun overwrites rather than duplicates,
and each is written to a temporary name and renamed, so a crash never leaves half a message.
Files are 0600 in a folder made 0700 (digest.private_files): each holds an address and live
unsubscribe links.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from digest.delivery.base import BackendInfo, Outcome, Recipient, SendJob
from digest.delivery.mime_template import MessageMaker
from digest.errors import DigestError
from digest.private_files import make_private_dir, write_private


class OutboxBackend:
    max_batch = 1000

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        try:
            make_private_dir(self.out_dir)  # each message holds an address and live links
            if not os.access(self.out_dir, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as exc:
            raise DigestError(
                f"cannot write messages to the outbox {self.out_dir}: "
                f"{exc.strerror or exc}; choose another --out"
            ) from None
        self.info = BackendInfo(name="outbox", destination=str(self.out_dir))
        self._messages = MessageMaker()

    def path_for(self, job: SendJob, recipient: Recipient) -> Path:
        return self.out_dir / f"{job.edition.id}.{recipient.subscriber.id}.eml"

    def send_batch(self, job: SendJob, batch: Sequence[Recipient]) -> list[Outcome]:
        outcomes = []
        for recipient in batch:
            try:
                raw = self._messages.message_bytes(job, recipient)
            except ValueError as exc:  # an address no message can carry: this recipient only
                outcomes.append(Outcome(recipient.subscriber.id, "failed", str(exc)))
                continue
            path = self.path_for(job, recipient)
            try:
                write_private(path, raw)
            except OSError as exc:  # a full disk: failed, and --retry-failed sends it later
                outcomes.append(
                    Outcome(
                        recipient.subscriber.id,
                        "failed",
                        f"could not write {path.name}: {exc.strerror or exc}",
                    )
                )
                continue
            outcomes.append(Outcome(recipient.subscriber.id, "sent", path.name))
        return outcomes

    def close(self) -> None:
        pass
