"""`digest subscribers import` on a Mailchimp ZIP, end to end (a real process and database)."""

from tests.cli.test_cli import digest
from tests.hostile.csv_files import mailchimp_zip


def test_cli_imports_a_mailchimp_zip_and_says_what_it_recognised(site, tmp_path):
    # Before: the ZIP was refused as a "spreadsheet workbook".
    proc = digest(
        "subscribers", "import", str(mailchimp_zip(tmp_path)), "--list", "matinale", cwd=tmp_path
    )
    said = " ".join(proc.stderr.split())  # rich wraps long lines
    assert (
        "format: unsubscribed_members_export_3f9a1c2b7e.csv: Mailchimp audience export "
        "(unsubscribed members)"
    ) in said
    assert (
        "subscribed_members_export_3f9a1c2b7e.csv line 4 (imported): time zone 'Mars/Olympus_Mons'"
    ) in said
    assert " ".join(proc.stdout.split()) == (
        "list 'matinale': 4 added, 0 updated, 0 unchanged, 2 recorded as unsubscribed, "
        "1 recorded as suppressed, 0 rejected"
    )
    listed = digest("subscribers", "list", "--list", "matinale", cwd=tmp_path)
    assert "karim.tazi@example.com" in listed.stdout and "unsubscribed" in listed.stdout
