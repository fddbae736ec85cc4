from datetime import UTC, datetime

from digest.web.when import When, spell

AT = datetime(2026, 12, 2, 6, 35, 56, 836169, tzinfo=UTC)


def test_a_utc_time_is_spelled_in_the_site_zone_and_the_page_language():
    # The tzdata package (IANA 2026f) the schedules use: Morocco at UTC+0 in December 2026,
    # where the system's older tzdata says UTC+1 (digest/zones.py).
    assert spell(AT, "Africa/Casablanca", "fr", "HH:mm") == "06:35"
    assert spell(AT, "Europe/Paris", "fr", "HH:mm") == "07:35"
    assert "déc." in spell(AT, "Africa/Casablanca", "fr")
    assert "Dec" in When("Africa/Casablanca", "en")(AT) and "+00:00" not in When("UTC", "en")(AT)
    assert spell(None, "UTC", "en") == ""
