"""One tree of errors. Callers catch DigestError; the CLI turns it into one sentence."""


class DigestError(Exception):
    """Anything the tool reports to a user as a sentence rather than a traceback."""


class ConfigError(Exception):
    """The configuration is missing or wrong: names the file, the key and why."""

    def __init__(self, message: str, *, path=None, key: str | None = None):
        self.path = path
        self.key = key
        where = []
        if path is not None:
            where.append(str(path))
        if key:
            where.append(f"key '{key}'")
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SourceError(DigestError):
    """A source could not be read or parsed. Collected as a warning, never fatal alone."""


class NoStoriesError(DigestError):
    """Every source failed or nothing fell inside the window: there is no edition to send."""


class RenderError(DigestError):
    """The templates or the MJML could not be turned into an email."""


class StoreError(DigestError):
    """The database refused or holds something unexpected."""


class ImportRowError(DigestError):
    """One CSV row could not be imported (carries its line number)."""


class DeliveryError(DigestError):
    """A batch could not be handed to the delivery backend.

    Carries what the provider said, normalized: ``backend``, ``status`` (HTTP or SMTP code, if
    any), ``detail`` (the provider's own message, secrets removed) and ``retry_after`` (seconds,
    when the provider said how long to wait).
    """

    def __init__(
        self,
        message: str,
        *,
        backend: str = "",
        status: int | None = None,
        detail: str = "",
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.backend = backend
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


class DeliveryRefused(DeliveryError):
    """Permanent: retrying the same request will fail the same way (e.g. SendGrid 400)."""


class DeliveryAuthError(DeliveryRefused):
    """The credentials were refused (401/403, SMTP 535): stop the send at once."""


class DeliveryTooLarge(DeliveryRefused):
    """The request was too large (413): the send loop splits the batch and tries the halves."""


class DeliveryTransient(DeliveryError):
    """Temporary: the same request may succeed later (429, 5xx, timeouts, dropped connections)."""


class DeliveryUncertain(DeliveryError):
    """The batch was handed over but its answer was lost (a timeout or a dropped connection
    after the request body or the message data was sent): the provider may have accepted it.
    Retrying could deliver it twice, so the loop records it 'unknown', like a crash would."""
