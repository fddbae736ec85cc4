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
    """A message could not be handed to the delivery backend."""


class DeliveryRefused(DeliveryError):
    """Permanent: retrying the same request will fail the same way."""


class DeliveryTransient(DeliveryError):
    """Temporary: the same request may succeed later."""
