"""Reading and writing subscriber CSV files (no database)."""

import io

import pytest
from email_validator import EmailNotValidError, validate_email

from digest.errors import DigestError, ImportRowError
from digest.normalize import email_key, normalize_email, normalize_locale
from digest.store.csvio import CsvFormatError, CsvRow, read_subscriber_csv, write_subscriber_csv


def lines(items):
    return [item.line for item in items]


def test_excel_french_export_bom_crlf_semicolons(fixture_path):
    result = read_subscriber_csv(fixture_path("excel-fr.csv"))
    assert result.encoding == "utf-8-sig"
    assert result.delimiter == ";"
    assert result.notes == []
    assert result.rows == [
        CsvRow(2, "camille.martin@example.com", "Camille Martin", "fr"),
        CsvRow(3, "jean.dupont@example.org", "Dupont; Jean", "fr_MA"),
        CsvRow(5, "hélène@example.com", "Hélène Lefèvre", "fr"),
        CsvRow(10, "yasmine@example.com", 'Yasmine "Yas" Benali', None),
    ]
    assert [(r.line, r.value) for r in result.rejected] == [
        (6, "pas-une-adresse"),
        (9, "zoe@example.org"),
    ]
    assert "@-sign" in result.rejected[0].reason
    assert "unknown locale 'zz-999-x'" in result.rejected[1].reason
    assert [(m.line, m.first_line) for m in result.merged] == [(7, 2)]


def test_path_given_as_str_bytes_or_pathlike_reads_the_same(fixture_path):
    path = fixture_path("excel-fr.csv")
    assert (
        read_subscriber_csv(str(path)).rows
        == read_subscriber_csv(path).rows
        == read_subscriber_csv(path.read_bytes()).rows
    )


def test_quoted_fields_with_delimiters_and_newlines_keep_physical_line_numbers(fixture_path):
    result = read_subscriber_csv(fixture_path("quoted-multiline.csv"))
    assert result.rows == [
        CsvRow(2, "anne@example.com", "Durand, Anne", "fr"),
        CsvRow(6, "carla@example.org", 'Carla "CJ", Jones', "en"),
        CsvRow(8, "emma@example.com", "Emma", None),
    ]
    assert lines(result.rejected) == [4, 7]
    assert "control character (U+000A)" in result.rejected[0].reason
    assert result.rejected[1].reason.startswith("5 fields but the header has 4")
    assert result.notes == ["ignored column(s): 'notes'"]


def test_each_bad_address_is_rejected_on_its_own_line(fixture_path):
    result = read_subscriber_csv(fixture_path("bad-addresses.csv"))
    assert [(r.line, r.email) for r in result.rows] == [
        (2, "good@example.com"),
        (11, "ok2@example.org"),
    ]  # spaces stripped, domain lowered
    assert lines(result.rejected) == [3, 4, 5, 6, 7, 8, 9, 10]
    reasons = {r.line: r.reason for r in result.rejected}
    assert reasons[3] == "no email address"
    assert "invalid characters before the @-sign: SPACE" in reasons[6]
    assert "special-use or reserved" in reasons[9]
    assert "display name" in reasons[10]


def test_missing_email_column_refuses_the_whole_file(fixture_path):
    with pytest.raises(CsvFormatError) as info:
        read_subscriber_csv(fixture_path("missing-email.csv"))
    assert isinstance(info.value, ImportRowError) and isinstance(info.value, DigestError)
    assert info.value.line == 1
    assert str(info.value) == (
        "line 1: the header has no email column (found 'nom', 'prénom', 'ville'); name the "
        "column 'email' (also accepted: 'e-mail', 'courriel', 'mail')"
    )


def test_duplicates_differing_by_case_are_merged_first_row_wins(fixture_path):
    result = read_subscriber_csv(fixture_path("duplicates.csv"))
    assert result.rows == [
        CsvRow(2, "Alice@example.com", "Alice", "fr"),
        CsvRow(5, "bob@example.org", "Bob", None),
    ]
    assert [(m.line, m.first_line, m.email) for m in result.merged] == [
        (3, 2, "alice@example.com"),
        (4, 2, "ALICE@example.com"),
        (6, 5, "BOB@example.org"),
    ]
    assert result.rejected == []  # merging is not an error


def test_control_characters_in_names_are_rejected_not_stripped(fixture_path):
    result = read_subscriber_csv(fixture_path("control-chars.csv"))
    assert [(r.line, r.reason.split("(")[1][:6]) for r in result.rejected] == [
        (2, "U+0007"),
        (3, "U+001B"),
        (4, "U+0009"),
        (5, "U+2028"),
        (6, "U+000D"),
    ]
    # The bare CR inside line 6's quotes ends a physical line, so the next rows are 8 and 9.
    assert result.rows == [
        CsvRow(8, "padded@example.com", "Padded Name", None),
        CsvRow(9, "rtl@example.com", "\u200fليلى\u200c", None),  # RLM/ZWNJ are legitimate
    ]


def test_arabic_headers_and_names(fixture_path):
    result = read_subscriber_csv(fixture_path("arabic.csv"))
    assert [(r.line, r.name, r.locale) for r in result.rows] == [
        (2, "فاطمة الزهراء", "ar"),
        (3, "يوسف العلوي", "ar_MA"),
        (4, "سلمى بنعلي", "ar_MA"),
        (5, "كريم", None),
    ]
    assert result.rejected == [] and result.notes == []


def test_cp1252_file_is_detected_with_a_note(fixture_path):
    result = read_subscriber_csv(fixture_path("latin1.csv"))
    assert result.encoding == "cp1252"
    assert [r.name for r in result.rows] == ["Hélène Œillet", "François Müller"]
    assert len(result.notes) == 1
    assert result.notes[0].startswith("the file is not UTF-8; it was read as Windows-1252")


def test_cp1252_row_with_a_byte_cp1252_lacks_is_rejected_alone():
    # Attack: a byte undefined in Windows-1252 (0x81) inside a Western file. Before, the whole
    # file fell back to Latin-1; now that row alone is reported, with its line.
    data = (
        "email,name\nx@example.com,Zoé Lefèvre\ny@example.com,Hélène\n".encode("cp1252")
        + b"z@example.com,A\x81B\xe9\n"
    )
    result = read_subscriber_csv(data)
    assert result.encoding == "cp1252"
    assert [r.name for r in result.rows] == ["Zoé Lefèvre", "Hélène"]
    assert [(r.line, r.value) for r in result.rejected] == [(4, "z@example.com")]
    assert "line 4 is not Windows-1252" in result.rejected[0].reason


def test_utf16_tab_separated_unicode_text(fixture_path):
    result = read_subscriber_csv(fixture_path("excel-unicode-text.csv"))
    assert (result.encoding, result.delimiter) == ("utf-16", "\t")
    assert [(r.line, r.email, r.name, r.locale) for r in result.rows] == [
        (2, "nadia@example.com", "Nadia Ben Ali", "fr"),
        (3, "omar@example.org", "عمر", "ar"),
    ]


def test_excel_sep_line_names_the_delimiter(fixture_path):
    result = read_subscriber_csv(fixture_path("sep-line.csv"))
    assert result.delimiter == ";"
    assert result.rows == [CsvRow(3, "x@example.com", "Dupont, Jean", None)]


def test_unclosed_quote_refuses_the_file_at_the_row_where_it_starts(fixture_path):
    with pytest.raises(CsvFormatError) as info:
        read_subscriber_csv(fixture_path("broken-quote.csv"))
    assert info.value.line == 3
    assert "quoting is broken" in str(info.value)


def test_status_column_keeps_unsubscribed_rows_out(fixture_path):
    result = read_subscriber_csv(fixture_path("status.csv"))
    assert [r.email for r in result.rows] == ["kept@example.com", "empty@example.com"]
    assert [(r.line, r.reason) for r in result.rejected] == [
        (4, "marked 'unsubscribed' in the status column: not imported"),
        (5, "marked 'suppressed' in the status column: not imported"),
        (6, "unknown status 'vip' (expected empty, 'active' or 'unsubscribed')"),
    ]


@pytest.mark.parametrize(
    "data, delimiter",
    [
        (b"email;name\r\na@example.com;A, B\r\n", ";"),
        (b"name,email\nA; B,a@example.com\n", ","),
        (b"email\ta\nx@example.com\ty\n", "\t"),
        (b"EMAIL | NAME\na@example.com|A\n", "|"),
        (b"email\na@example.com\n", ","),  # one column: nothing to detect
    ],
)
def test_delimiter_is_detected_from_the_header(data, delimiter):
    result = read_subscriber_csv(data)
    assert result.delimiter == delimiter
    assert [r.email for r in result.rows] in (["a@example.com"], ["x@example.com"])


def test_header_aliases_case_and_spaces():
    result = read_subscriber_csv(b" E-Mail ; NOM ;Langue\nx@example.com;Xavier;EN\n")
    assert result.rows == [CsvRow(2, "x@example.com", "Xavier", "en")]


def test_two_email_columns_is_an_error():
    with pytest.raises(CsvFormatError, match="columns 1 and 2 are both a 'email' column"):
        read_subscriber_csv(b"email,courriel\na@example.com,b@example.com\n")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "the file is empty"),
        (b"\r\n\r\n  \n", "the file is empty"),
        (b"PK\x03\x04rest-of-a-zip", "the ZIP file is damaged"),
    ],
)
def test_unusable_files(data, message):
    with pytest.raises(CsvFormatError, match=message):
        read_subscriber_csv(data)


def test_missing_file_is_a_sentence(tmp_path):
    with pytest.raises(CsvFormatError, match="cannot read .*nope.csv"):
        read_subscriber_csv(tmp_path / "nope.csv")


def test_leading_blank_lines_shift_line_numbers():
    result = read_subscriber_csv(b"\n\nemail\n\nx@example.com\n")
    assert result.rows == [CsvRow(5, "x@example.com", "", None)]


def test_overlong_name_is_rejected():
    result = read_subscriber_csv(f"email,name\nx@example.com,{'a' * 201}\n".encode())
    assert result.rows == [] and result.rejected[0].reason.startswith("the name is longer")


@pytest.mark.parametrize(
    "given, expected",
    [
        ("fr", "fr"),
        ("AR", "ar"),
        ("fr-ma", "fr_MA"),
        ("fr_MA", "fr_MA"),
        ("zh-hant-tw", "zh_Hant_TW"),
        ("es-419", "es_419"),
        ("", None),
        ("  ", None),
        (None, None),
        ("french", None),
        ("f", None),
        ("fr_MAR", None),
        ("fr.UTF-8", None),
    ],
)
def test_normalize_locale(given, expected):
    assert normalize_locale(given) == expected


ADDRESSES = [
    "plain@example.com",
    "First.Last@Example.COM",
    "x+tag@sub.example.org",
    "=cmd@example.com",
    "o'brien@example.com",
    "POSTMASTER@example.com",
    "Info@Example.com",
    "a@b.co",
    "user@bücher.de",
    "user@xn--bcher-kva.de",
    "élise@example.fr",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "x@" + "a" * 63 + ".com",
    "x@" + "a" * 64 + ".com",
    "x@" + ".".join(["a" * 60] * 4) + ".com",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@example",
    "a@localhost",
    "a@example.test",
    "a@-example.com",
    "a@example..com",
    "a@[127.0.0.1]",
    '"quoted"@example.com',
    "a@example.c0m",
    "a@123.com",
    "a@example.123",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_fast_normalize_email_agrees_with_email_validator(address):
    try:
        expected = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        with pytest.raises(EmailNotValidError) as info:
            normalize_email(address)
        assert str(info.value) == str(exc)
        return
    assert normalize_email(address) == expected
    assert normalize_email(address) == expected  # second call: domain cache hit


def test_email_key_is_the_lower_cased_normal_form():
    assert email_key("  Alice@EXAMPLE.com ") == "alice@example.com"
    assert email_key("not an address") == "not an address"  # still usable as a key


# --------------------------------------------------------------------------- writing


def test_export_defuses_formulas_and_reimports_to_the_same_values(fixture_path, tmp_path):
    rows = read_subscriber_csv(fixture_path("formula.csv")).rows
    out = tmp_path / "out.csv"
    count = write_subscriber_csv(
        [{"email": r.email, "name": r.name, "locale": r.locale, "status": "active"} for r in rows],
        out,
    )
    assert count == 6
    text = out.read_bytes().decode("utf-8")
    assert text.splitlines() == [
        "email,name,locale,status",
        'formula@example.com,"\'=HYPERLINK(""http://evil.example/"",""click"")",fr,active',
        "plus@example.com,'+212 600 000 000,fr,active",
        "minus@example.com,'-Minus,fr,active",
        "at@example.com,'@SUM(A1:A2),fr,active",
        "'=cmd@example.com,Equals Address,fr,active",
        "plain@example.com,Plain Name,fr,active",
    ]
    assert text.endswith("\r\n") and "\r\n" in text  # RFC 4180 line ends
    again = read_subscriber_csv(out)
    assert [(r.email, r.name, r.locale) for r in again.rows] == [
        (r.email, r.name, r.locale) for r in rows
    ]


def test_write_accepts_objects_tuples_text_and_binary_streams():
    class Row:
        email, name, locale, status = "a@example.com", "Hélène", None, "unsubscribed"

    text = io.StringIO()
    assert write_subscriber_csv([Row(), ("b@example.com", "عمر", "ar", "active")], text) == 2
    assert text.getvalue() == (
        "email,name,locale,status\r\na@example.com,Hélène,,unsubscribed"
        "\r\nb@example.com,عمر,ar,active\r\n"
    )
    binary = io.BytesIO()
    write_subscriber_csv([Row()], binary, bom=True)
    assert binary.getvalue().startswith(b"\xef\xbb\xbfemail,name,locale,status\r\n")
    assert "Hélène".encode() in binary.getvalue()
    assert not binary.closed  # the caller's stream is left open


# --------------------------------------------------------------------------- hostile input
# (issue 8: oversized fields, encodings, tools' exports; database side in tests/hostile/)


def test_a_200k_character_field_fails_its_row_only(fixture_path):
    # Before: csv's field limit (131,072) raised out of the reader and the whole file was lost.
    result = read_subscriber_csv(fixture_path("long-field.csv"))
    assert [(r.line, r.email) for r in result.rows] == [
        (2, "before@example.com"),
        (5, "after@example.com"),
    ]  # the field spans lines 3-4
    assert [(r.line, r.reason) for r in result.rejected] == [
        (3, "a field is longer than 131,072 characters: row skipped")
    ]


def test_a_physical_line_over_the_line_cap_is_skipped_unread():
    # A 3 MB line without any line break: never held whole, its row rejected, the next kept.
    data = (
        b"email,name\nfirst@example.com,A\nhuge@example.com,"
        + b"z" * 3_000_000
        + b"\nlast@example.com,B\n"
    )
    result = read_subscriber_csv(data)
    assert [r.email for r in result.rows] == ["first@example.com", "last@example.com"]
    assert [r.line for r in result.rejected] == [3]
    assert "line 3 is longer than 1,048,576 bytes" in result.rejected[0].reason


def test_an_overlong_quoted_field_that_never_closes_still_refuses_the_file():
    # Recovering from an oversized field must not turn a broken quote into silent data loss.
    data = b'email,name\nok@example.com,A\nbad@example.com,"' + b"q\n" * 80_000
    with pytest.raises(CsvFormatError) as info:
        read_subscriber_csv(data)
    assert info.value.line == 3 and "quoting is broken" in str(info.value)


def test_cp1256_arabic_excel_export_is_detected(fixture_path):
    # Before: read as Windows-1252, Arabic names stored as "ÝÇØãÉ" with only a note.
    result = read_subscriber_csv(fixture_path("arabic-cp1256.csv"))
    assert (result.encoding, result.delimiter) == ("cp1256", ";")
    assert [(r.line, r.name, r.locale) for r in result.rows] == [
        (2, "فاطمة الزهراء العلوي", "ar"),
        (3, "يوسف بنجلون", "ar_MA"),
        (4, "سلمى الإدريسي", None),
        (5, "حميد", "ar"),
    ]
    assert "Windows-1256" in result.notes[0]


def test_mixed_encodings_are_reported_row_by_row(fixture_path):
    # A UTF-8 file with one Windows-1252 and one Windows-1256 row pasted in.
    result = read_subscriber_csv(fixture_path("mixed-encoding.csv"))
    assert result.encoding == "utf-8"
    assert [(r.line, r.name) for r in result.rows] == [(2, "Inès Lefèvre"), (3, "ليلى"), (6, "Zoé")]
    assert [(r.line, r.value) for r in result.rejected] == [
        (4, "gerard@example.com"),
        (5, "rachid@example.com"),
    ]
    assert all("is not UTF-8 like the rest of the file" in r.reason for r in result.rejected)


def test_utf8_line_inside_a_cp1252_file_is_not_stored_as_mojibake():
    data = (
        "email,name\na@example.com,Hélène\nb@example.com,François\n".encode("cp1252")
        + "c@example.com,Gérard\n".encode()
    )
    result = read_subscriber_csv(data)
    assert result.encoding == "cp1252"
    assert [r.name for r in result.rows] == ["Hélène", "François"]
    assert [r.line for r in result.rejected] == [4]  # would have been "GÃ©rard"


def test_utf8_found_only_deep_in_a_large_ascii_file_is_still_detected():
    # The detector's sample is the non-ASCII lines, wherever they are, not the first bytes.
    data = b"email,name\n" + b"".join(b"p%d@example.com,Plain\n" % i for i in range(20_000))
    data += "late@example.com,سارة\n".encode("cp1256")
    result = read_subscriber_csv(data)
    assert result.encoding == "cp1256" and result.rows[-1].name == "سارة"


def test_listmonk_export_is_recognised(fixture_path):
    result = read_subscriber_csv(fixture_path("listmonk-export.csv"))
    assert result.format == "listmonk subscriber export"
    assert [(r.email, r.name, r.action) for r in result.rows] == [
        ("salma@example.com", "Salma Bennani", "subscribe"),
        ("omar@example.org", "عمر الفاسي", "subscribe"),
        ("spam.report@example.com", "Blocked Person", "suppress"),
    ]
    assert [(r.line, r.reason) for r in result.rejected] == [
        (5, "disabled in listmonk: not imported")
    ]


def test_listmonk_per_list_subscription_status():
    result = read_subscriber_csv(
        b"uuid,email,name,attributes,status,subscription_status\n"
        b"u1,a@example.com,A,{},enabled,confirmed\nu2,b@example.com,B,{},enabled,unsubscribed\n"
        b"u3,c@example.com,C,{},enabled,unconfirmed\n"
    )
    assert [(r.email, r.action) for r in result.rows] == [
        ("a@example.com", "subscribe"),
        ("b@example.com", "unsubscribe"),
        ("c@example.com", "subscribe"),
    ]


@pytest.mark.parametrize(
    "name, label, action",
    [
        ("subscribed_members_export_3f9a1c2b7e.csv", "subscribed", "subscribe"),
        ("unsubscribed_members_export_3f9a1c2b7e.csv", "unsubscribed", "unsubscribe"),
        ("cleaned_members_export_3f9a1c2b7e.csv", "cleaned", "suppress"),
    ],
)
def test_mailchimp_files_are_recognised_by_their_header(fixture_path, name, label, action):
    # Before: "Email Address" was found, First/Last Name dropped, and every file imported
    # as active subscribers, the unsubscribed and cleaned ones included.
    result = read_subscriber_csv(fixture_path("mailchimp/" + name))
    assert result.format == f"Mailchimp audience export ({label} members)"
    assert {r.action for r in result.rows} == {action}
    assert all(r.name for r in result.rows)


def test_mailchimp_names_and_time_zones(fixture_path):
    result = read_subscriber_csv(fixture_path("mailchimp/subscribed_members_export_3f9a1c2b7e.csv"))
    assert [(r.name, r.timezone) for r in result.rows] == [
        ("Nadia Ben Ali", "Africa/Casablanca"),
        ("John Smith", "America/New_York"),
        ("ياسمين العلوي", None),
        ("Solo", None),
    ]
    assert [(w.line, w.reason) for w in result.warnings] == [
        (
            4,
            "time zone 'Mars/Olympus_Mons' is not an IANA time zone name "
            "(e.g. Africa/Casablanca): dropped",
        )
    ]
    assert result.rejected == []


def test_a_renamed_mailchimp_file_keeps_the_stricter_meaning(fixture_path):
    # The unsubscribed file, renamed, with its UNSUB_* columns deleted: still opt-outs, because
    # the file name Mailchimp gave it says so (and the reverse: the header wins over a name).
    text = fixture_path("mailchimp/unsubscribed_members_export_3f9a1c2b7e.csv").read_text()
    trimmed = text.replace("UNSUB_TIME", "X1").replace("UNSUB_CAMPAIGN_TITLE", "X2")
    from digest.store.csvformats import recognize

    header = trimmed.splitlines()[0].replace('"', "").split(",")
    assert recognize(header, "unsubscribed_members_export_1.csv").part == "unsubscribed"
    assert recognize(header, "members.csv").part == "subscribed"
    assert (
        recognize(
            text.splitlines()[0].replace('"', "").split(","), "subscribed_members_export_1.csv"
        ).part
        == "unsubscribed"
    )


@pytest.mark.parametrize("header", ["timezone", "fuseau", "Time Zone", "fuseau horaire"])
def test_plain_csv_time_zone_column(header):
    result = read_subscriber_csv(
        f"email;{header}\na@example.com;europe/paris\nb@example.com;UTC+2\n"
        "c@example.com;\n".encode()
    )
    assert [(r.email, r.timezone) for r in result.rows] == [
        ("a@example.com", "Europe/Paris"),
        ("b@example.com", None),
        ("c@example.com", None),
    ]
    assert [w.line for w in result.warnings] == [3]


@pytest.mark.parametrize(
    "value",
    ["../../../../etc/passwd", "/etc/localtime", "Europe/../UTC", "x" * 500, "Europe/Paris\x00"],
)
def test_time_zone_names_that_are_paths_are_refused(value):
    from digest.normalize import normalize_timezone

    assert normalize_timezone(value) is None
