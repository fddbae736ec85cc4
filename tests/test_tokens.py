import os

import pytest

from digest.tokens import BadToken, TokenSigner, load_secret_key


def test_round_trip_and_ids_only():
    signer = TokenSigner("x" * 40)
    token = signer.make(123456, "matinale")
    assert signer.read(token) == (123456, "matinale")
    assert "@" not in token


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature byte changed
        lambda t: "zz" + t[2:],  # payload changed (other subscriber)
        lambda t: t[:10],  # truncated
        lambda t: "",
        lambda t: t.replace(".", "", 1),
    ],
)
def test_forged_tokens_are_refused(mutate):
    signer = TokenSigner("x" * 40)
    token = signer.make(42, "matinale")
    with pytest.raises(BadToken):
        signer.read(mutate(token))


def test_other_key_or_purpose_refused():
    token = TokenSigner("x" * 40).make(42, "matinale")
    with pytest.raises(BadToken):
        TokenSigner("y" * 40).read(token)
    with pytest.raises(BadToken):
        TokenSigner("x" * 40, purpose="preferences").read(token)


def test_configured_key_wins(tmp_path):
    key = load_secret_key("s" * 40, tmp_path)
    assert key.value == "s" * 40 and key.generated_at is None
    assert not (tmp_path / ".secret-key").exists()


def test_local_key_generated_once_and_kept(tmp_path):
    first = load_secret_key(None, tmp_path / "state")
    assert first.generated_at == tmp_path / "state" / ".secret-key"
    assert oct(os.stat(first.generated_at).st_mode & 0o777) == "0o600"
    second = load_secret_key(None, tmp_path / "state")
    assert second.value == first.value and len(first.value) >= 32


def test_fast_signing_is_byte_for_byte_itsdangerous():
    signer = TokenSigner("x" * 40)
    for sid, list_name in [(1, "matinale"), (10**9, "soir-ar"), (255, "a.b")]:
        assert (
            signer.make(sid, list_name)
            == signer._signer.sign(f"{sid:x}.{list_name}".encode()).decode()
        )
        assert signer.read(signer.make(sid, list_name)) == (sid, list_name)
