"""Which tool wrote a subscriber CSV, and what its columns and statuses mean for consent.

Recognised from the header (and, for Mailchimp, the file name inside its ZIP): our own and
spreadsheet CSVs ("plain"), Mailchimp audience exports (one file each for subscribed,
unsubscribed and cleaned members) and listmonk's subscriber export. A row's *action* says what
an import may do with it: subscribe it, record an opt-out from the list, or record a global
suppression. Nothing a file says ever turns an opt-out or suppression back into a subscription.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from digest.store.csvdecode import CsvFormatError

SUBSCRIBE = "subscribe"  # active member of the list (unless opted out or suppressed already)
OPT_OUT = "unsubscribe"  # membership recorded as unsubscribed; never resubscribed
SUPPRESS = "suppress"  # global suppression; never active on any list

# Header cells are compared after header_key(): case-folded, "_" as space, spaces collapsed.
HEADER_ALIASES: Mapping[str, frozenset[str]] = {
    "email": frozenset(
        {
            "email",
            "e-mail",
            "mail",
            "email address",
            "e-mail address",
            "courriel",
            "adresse email",
            "adresse e-mail",
            "adresse mail",
            "adresse électronique",
            "البريد الإلكتروني",
            "البريد الالكتروني",
            "البريد",
        }
    ),
    "name": frozenset(
        {"name", "full name", "fullname", "display name", "nom", "nom complet", "الاسم"}
    ),
    "first_name": frozenset({"first name", "firstname", "given name", "fname"}),
    "last_name": frozenset({"last name", "lastname", "family name", "surname", "lname"}),
    "locale": frozenset({"locale", "language", "lang", "langue", "اللغة"}),
    "timezone": frozenset({"timezone", "time zone", "tz", "fuseau", "fuseau horaire"}),
    # Present in our own exports: lets an export be re-imported without resubscribing anyone.
    # In listmonk's export it is the subscriber's status (enabled/disabled/blocklisted).
    "status": frozenset({"status", "statut"}),
    # listmonk, when a per-list subscription status is exported.
    "subscription_status": frozenset({"subscription status"}),
}

# Columns only Mailchimp writes; two of them (with "Email Address") make a Mailchimp file.
MAILCHIMP_MARKS = frozenset(
    {
        "member rating",
        "optin time",
        "optin ip",
        "confirm time",
        "confirm ip",
        "leid",
        "euid",
        "gmtoff",
        "dstoff",
        "notes",
    }
)
LISTMONK_COLUMNS = frozenset({"uuid", "email", "name", "attributes", "status"})

# Mailchimp parts, from the least to the most restrictive.
MAILCHIMP_PARTS = ("subscribed", "unsubscribed", "cleaned")
MAILCHIMP_ACTIONS = {"subscribed": SUBSCRIBE, "unsubscribed": OPT_OUT, "cleaned": SUPPRESS}

DELIMITERS = ",;\t|"
IGNORED_SHOWN = 12  # ignored columns named in the note (Mailchimp exports have dozens)

IMPORTED_STATUSES = frozenset({"", "active", "subscribed"})
NOT_IMPORTED_STATUSES = frozenset({"unsubscribed", "suppressed", "bounced", "cleaned"})


@dataclass(frozen=True)
class Format:
    tool: str  # "plain", "mailchimp", "listmonk"
    part: str | None = None  # Mailchimp: subscribed / unsubscribed / cleaned

    @property
    def label(self) -> str:
        if self.tool == "mailchimp":
            return f"Mailchimp audience export ({self.part} members)"
        if self.tool == "listmonk":
            return "listmonk subscriber export"
        return "CSV"

    @property
    def suppression_reason(self) -> str:
        """The ``suppressions.reason`` recorded for this format's SUPPRESS rows."""
        return "cleaned" if self.tool == "mailchimp" else "blocklisted"


def header_key(cell: str) -> str:
    cell = unicodedata.normalize("NFC", cell.strip().lstrip("\ufeff")).casefold()
    return " ".join(cell.replace("_", " ").split())


def recognize(header: list[str], file_name: str = "") -> Format:
    keys = {header_key(cell) for cell in header}
    if "email address" in keys and len(keys & MAILCHIMP_MARKS) >= 2:
        return Format("mailchimp", _mailchimp_part(keys, file_name))
    if LISTMONK_COLUMNS <= keys:
        return Format("listmonk")
    return Format("plain")


def _mailchimp_part(keys: set[str], file_name: str) -> str:
    # The header says it (UNSUB_TIME, CLEAN_TIME); so does the file name Mailchimp gives. A
    # renamed file or an edited header must not turn opt-outs into subscribers: the more
    # restrictive of the two wins.
    by_header = (
        "cleaned"
        if "clean time" in keys
        else "unsubscribed"
        if "unsub time" in keys
        else "subscribed"
    )
    name = file_name.rsplit("/", 1)[-1].casefold()
    by_name = next(
        (part for part in ("cleaned", "unsubscribed") if name.startswith(f"{part}_members")),
        "subscribed",
    )
    return max(by_header, by_name, key=MAILCHIMP_PARTS.index)


def row_action(fmt: Format, status: str, subscription_status: str) -> tuple[str | None, str]:
    """(action, "") for a row, or (None, reason) when the row is not to be imported."""
    status = header_key(status)
    if fmt.tool == "mailchimp":
        return MAILCHIMP_ACTIONS[fmt.part or "subscribed"], ""
    if fmt.tool == "listmonk":
        if status == "blocklisted":
            return SUPPRESS, ""
        if status == "disabled":
            return None, "disabled in listmonk: not imported"
        if status not in ("", "enabled"):
            return None, (
                f"unknown listmonk status {status!r} (expected enabled, disabled or blocklisted)"
            )
        sub = header_key(subscription_status)
        if sub == "unsubscribed":
            return OPT_OUT, ""
        if sub not in ("", "confirmed", "unconfirmed"):
            return None, (
                f"unknown listmonk subscription status {sub!r} "
                "(expected confirmed, unconfirmed or unsubscribed)"
            )
        return SUBSCRIBE, ""
    if status in NOT_IMPORTED_STATUSES:
        return None, f"marked {status!r} in the status column: not imported"
    if status not in IMPORTED_STATUSES:
        return None, (f"unknown status {status!r} (expected empty, 'active' or 'unsubscribed')")
    return SUBSCRIBE, ""


def detect_delimiter(header_line: str) -> str:
    """The delimiter that makes the header show an email column.

    csv.Sniffer is asked first, on the header line only (data rows hold commas inside names
    and would mislead it); its guess is kept only if it yields an email column, otherwise the
    candidates are tried from the most frequent on the line.
    """
    try:
        sniffed = csv.Sniffer().sniff(header_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    by_count = sorted(DELIMITERS, key=lambda d: -header_line.count(d))
    candidates = ([sniffed] if sniffed else []) + by_count
    for delimiter in candidates:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        if any(header_key(cell) in HEADER_ALIASES["email"] for cell in cells):
            return delimiter
    return sniffed or (by_count[0] if header_line.count(by_count[0]) else ",")


def map_header(header: list[str] | None, line: int, notes: list[str]) -> dict[str, int]:
    """Column index of each role (email, name...); the ignored columns go into ``notes``."""
    columns: dict[str, int] = {}
    ignored = []
    cells = header or []
    for index, cell in enumerate(cells):
        key = header_key(cell)
        role = next((r for r, names in HEADER_ALIASES.items() if key in names), None)
        if role is None:
            if key:
                ignored.append(cell.strip())
            continue
        if role in columns:
            raise CsvFormatError(
                f"columns {columns[role] + 1} and {index + 1} are both a {role!r} column "
                f"({cells[columns[role]].strip()!r} and {cell.strip()!r}); keep one",
                line=line,
            )
        columns[role] = index
    if "email" not in columns:
        found = ", ".join(repr(c.strip()) for c in cells if c.strip()) or "nothing"
        raise CsvFormatError(
            f"the header has no email column (found {found}); name the column 'email' "
            "(also accepted: 'e-mail', 'courriel', 'mail')",
            line=line,
        )
    if ignored:
        shown = ", ".join(repr(c) for c in ignored[:IGNORED_SHOWN])
        more = len(ignored) - IGNORED_SHOWN
        notes.append("ignored column(s): " + shown + (f" and {more} more" if more > 0 else ""))
    return columns
