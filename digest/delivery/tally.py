"""One send's bookkeeping: the report's running figures, the progress callback and the error
budget. The ledger is the truth; these figures follow it between two full counts (reading
the ledger after every batch would cost more than the batch)."""

from __future__ import annotations

from digest.config.model import DeliveryConfig
from digest.delivery.job import Pause, Progress, SendReport


class Tally:
    def __init__(self, report: SendReport, delivery: DeliveryConfig, progress: Progress | None):
        self.report, self.delivery, self.progress = report, delivery, progress
        self.attempted = 0
        self.failed = 0

    def budget(self, attempted: int, failed: int) -> None:
        """Count one batch's attempts; Pause when the failures pass the error budget."""
        self.attempted += attempted
        self.failed += failed
        d = self.delivery
        if self.attempted >= d.error_budget_min and self.failed > d.error_budget * self.attempted:
            raise Pause(
                f"error budget spent: {self.failed} of {self.attempted} messages failed "
                f"(more than {d.error_budget:.0%}); look at the failures, then resume"
            )

    def read(self, counts: dict[str, int]) -> None:
        """The report's figures from the ledger's counts (at the start and the end only)."""
        r = self.report
        r.total = sum(counts.values())
        r.sent, r.failed = counts["sent"], counts["failed"]
        r.skipped, r.unknown = counts["skipped"], counts["unknown"]
        r.cancelled = counts["cancelled"]
        r.pending = counts["pending"] + counts["sending"]
        self.notify()

    def count(self, *, sent: int = 0, failed: int = 0, skipped: int = 0, unknown: int = 0) -> None:
        r = self.report
        r.sent, r.failed, r.skipped = r.sent + sent, r.failed + failed, r.skipped + skipped
        r.unknown += unknown
        r.pending -= sent + failed + skipped + unknown
        self.notify()

    def notify(self) -> None:
        if self.progress:
            r = self.report
            self.progress(r.total - r.pending, r.total)
