"""The command line speaks the operator's language (LANGUAGE/LC_ALL/LC_MESSAGES/LANG, or
DIGEST_LANG), English under C/POSIX or for a language without a catalog."""

from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.cli.language import cli_language
from digest.cli.report import print_report
from tests.cli.test_cli import digest
from tests.conftest import EXAMPLE_CSV


@pytest.mark.parametrize(
    "env, lang",
    [
        ({}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LANG": "C.UTF-8", "LANGUAGE": "fr"}, "en"),  # GNU gettext: C ignores LANGUAGE
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr_MA.UTF-8@latin"}, "fr"),
        ({"LANG": "ar_MA.UTF-8"}, "ar"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),  # no German catalog
        ({"LANG": "de_DE.UTF-8", "LANGUAGE": "de:ar:fr"}, "ar"),  # the first with a catalog
        ({"LC_ALL": "fr_FR.UTF-8", "LANG": "ar_MA.UTF-8"}, "fr"),  # LC_ALL first
        ({"LC_MESSAGES": "ar_MA.UTF-8", "LANG": "fr_FR.UTF-8"}, "ar"),
        ({"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, "en"),
        ({"DIGEST_LANG": "ar", "LANG": "fr_FR.UTF-8"}, "ar"),  # the override wins
        ({"DIGEST_LANG": "fr", "LC_ALL": "C"}, "fr"),
        ({"DIGEST_LANG": "xx", "LANG": "fr_FR.UTF-8"}, "fr"),  # an unknown one is ignored
        ({"DIGEST_LANG": "../../etc", "LANG": "C"}, "en"),
    ],
)
def test_the_language_is_read_from_the_environment_as_gettext_does(env, lang):
    assert cli_language(env) == lang


def test_an_import_reports_in_french_english_and_falls_back_to_english(site, tmp_path):
    args = ("subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale")
    fr = digest(*args, cwd=tmp_path, env_extra={"LANG": "fr_FR.UTF-8"})
    assert "liste 'matinale' : 10 ajoutés, 0 mis à jour, 0 inchangés, 0 rejetés" in fr.stdout
    assert "format :" in fr.stderr
    en = digest(*args, cwd=tmp_path, env_extra={"LANG": "C"})
    assert "list 'matinale': 0 added, 0 updated, 10 unchanged, 0 rejected" in en.stdout
    de = digest(*args, cwd=tmp_path, env_extra={"LANG": "de_DE.UTF-8"})
    assert "list 'matinale': 0 added, 0 updated, 10 unchanged, 0 rejected" in de.stdout


def test_an_error_says_its_fixed_part_in_the_operators_language(site, tmp_path):
    fr = digest("status", "nope", cwd=tmp_path, env_extra={"LANG": "fr_FR.UTF-8"}, check=False)
    assert fr.returncode == 1
    assert "erreur : il n'y a pas d'édition 'nope'" in fr.stderr
    ar = digest("status", "nope", cwd=tmp_path, env_extra={"DIGEST_LANG": "ar"}, check=False)
    assert "خطأ: لا يوجد إصدار 'nope'" in ar.stderr
    en = digest("status", "nope", cwd=tmp_path, check=False)
    assert "error: there is no edition 'nope' (ids look like <list>-YYYY-MM-DD)" in en.stderr


def test_a_command_run_in_process_follows_the_environment(site):
    runner = CliRunner()
    args = ["schedule", "list", "--config", str(site)]
    fr = runner.invoke(cli, args, env={"LANG": "fr_FR.UTF-8"})
    assert fr.exit_code == 0, fr.output
    assert "aucune programmation ('digest schedule add' en ajoute une)" in fr.output
    en = runner.invoke(cli, args, env={"LANG": "C"})
    assert "no schedules ('digest schedule add' adds one)" in en.output


def _report(**changes):
    fields = dict(
        edition_id="matinale-2025-07-01",
        backend="outbox",
        status="paused",
        reason="paused by cli:amina",
        total=3,
        sent=1,
        skipped=0,
        failed=1,
        unknown=0,
        pending=1,
        cancelled=0,
        requests=2,
        seconds=0.5,
        destination="outbox",
        failures=[("x@example.ma", "550 no such user")],
        retried=0,
        resent=0,
        newly_unknown=0,
    )
    return SimpleNamespace(**{**fields, **changes})


def test_the_send_report_in_french_keeps_the_data_as_it_is(monkeypatch, capsys):
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    print_report(_report())
    printed = capsys.readouterr()
    # The title's colon is spaced as French writes it; the columns wrap at 80 characters.
    assert "matinale-2025-07-01 via outbox : paused" in printed.out
    assert "messages dans outbox" in printed.out
    assert "en échec x@example.ma: 550 no such user" in printed.err
    assert "1 envoi(s) en échec, non renvoyé(s)." in printed.err
    assert "en pause : paused by cli:amina. Relancez la même commande" in printed.err
    assert "'digest status matinale-2025-07-01'" in printed.err


def test_the_send_report_in_english_is_worded_as_before(capsys):
    print_report(_report())
    printed = capsys.readouterr()
    assert "matinale-2025-07-01 via outbox: paused" in printed.out
    assert "messages in outbox" in printed.out
    assert "failed x@example.ma: 550 no such user" in printed.err
    assert "1 delivery(ies) failed and were not sent again. Once the cause is fixed" in (
        " ".join(printed.err.split())
    )
    assert (
        "paused: paused by cli:amina. Run the same command again to resume; "
        "'digest status matinale-2025-07-01' shows the ledger." in " ".join(printed.err.split())
    )


def test_help_pages_are_translated_and_english_is_left_as_it_was():
    runner = CliRunner()
    fr = runner.invoke(cli, ["send", "--help"], env={"LANG": "fr_FR.UTF-8"})
    assert fr.exit_code == 0, fr.output
    assert "Envoie l'édition du jour à chaque abonné actif d'une liste." in fr.output
    assert "Liste d'abonnés." in fr.output  # an option's help
    top = runner.invoke(cli, ["--help"], env={"DIGEST_LANG": "ar"})
    assert "يُعدّ النشرة الصباحية لموقع إخباري" in top.output
    assert "استيراد المشتركين وسردهم" in top.output  # a subcommand's one-line summary
    en = runner.invoke(cli, ["send", "--help"], env={"LANG": "C"})
    assert "Deliver today's edition to every active subscriber of a list." in en.output
    assert "Subscriber list." in en.output and "Liste d'abonnés" not in en.output
