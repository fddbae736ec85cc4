"""The systemd units in deploy/systemd/: read statically, and by `systemd-analyze verify` when
the machine has it."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli

UNITS = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
DIGEST = "/srv/digest/.venv/bin/digest"  # where the README installs it
SERVICES = ("digest-scheduler.service", "digest-web.service", "digest-health.service")


def read_unit(name: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values]}}: systemd allows a key more than once (Environment=)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for n, line in enumerate((UNITS / name).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{name}:{n}: not 'Key=value' inside a section"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(section: dict[str, list[str]], key: str) -> str:
    [value] = section[key]
    return value


def test_the_units_the_readme_describes_are_shipped():
    assert sorted(p.name for p in UNITS.iterdir()) == sorted((*SERVICES, "digest-health.timer"))
    readme = (UNITS.parent.parent / "README.md").read_text(encoding="utf-8")
    for name in (*SERVICES, "digest-health.timer"):
        assert f"deploy/systemd/{name}" in readme


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_a_real_digest_command_as_the_same_user(name):
    unit = read_unit(name)
    assert one(unit["Unit"], "Description")
    service = unit["Service"]
    argv = shlex.split(one(service, "ExecStart"))
    assert argv[0] == DIGEST
    # The command line parses: same command and options as a person would type.
    result = CliRunner().invoke(cli, [*argv[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert one(service, "User") == "digest"
    assert one(service, "WorkingDirectory") == "/srv/digest"
    assert "DIGEST_CONFIG=/srv/digest/digest.toml" in service["Environment"]
    assert one(service, "EnvironmentFile") == "/etc/digest/env"
    if name == "digest-health.service":
        assert one(service, "Type") == "oneshot" and "Install" not in unit  # by its timer
    else:
        assert one(service, "Restart") == "on-failure"
        assert one(unit["Install"], "WantedBy") == "multi-user.target"


def test_the_scheduler_has_time_to_finish_its_batch():
    service = read_unit("digest-scheduler.service")["Service"]
    assert int(one(service, "TimeoutStopSec")) >= 60  # SIGTERM finishes the batch in flight


def test_the_health_timer_runs_the_check_every_15_minutes():
    unit = read_unit("digest-health.timer")
    assert one(unit["Timer"], "Unit") == "digest-health.service"  # verify does not check it
    assert one(unit["Timer"], "OnCalendar") == "*:0/15"
    assert one(unit["Install"], "WantedBy") == "timers.target"


def test_systemd_analyze_verify(tmp_path):
    """systemd checks that ExecStart exists, so it verifies a copy pointing at this venv's
    digest. Any message counts as a failure: systemd only warns (exit 0) about a key it
    ignores or a bad value, which would leave the unit silently different from what we meant."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(
            "systemd-analyze is not installed (apt-get install systemd); the static "
            "checks above still ran"
        )
    digest = Path(sys.executable).with_name("digest")
    assert digest.exists(), "the digest script of this venv"
    for unit in UNITS.iterdir():
        text = unit.read_text(encoding="utf-8").replace(DIGEST, str(digest))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and not proc.stderr.strip() and not proc.stdout.strip(), (
        proc.stdout + proc.stderr
    )
