import pytest

from workbench.camelot import camelot_distance, from_camelot, key_name, parse_key, to_camelot
from workbench.errors import ParameterError


@pytest.mark.parametrize(
    ("key", "code"),
    [("C major", "8B"), ("A minor", "8A"), ("G major", "9B"), ("E minor", "9A"), ("B major", "1B"),
     ("Ab minor", "1A"), ("C# minor", "12A"), ("E major", "12B"), ("F minor", "4A"), ("Db major", "3B")],
)
def test_known_camelot_codes(key, code):
    assert to_camelot(*parse_key(key)) == code
    assert key_name(*from_camelot(code)) == key_name(*parse_key(key))


def test_round_trip_all_24_keys():
    codes = {to_camelot(pc, mode) for pc in range(12) for mode in ("major", "minor")}
    assert len(codes) == 24
    for code in codes:
        assert to_camelot(*from_camelot(code)) == code


def test_parse_key_spellings():
    assert parse_key("Bbm") == (10, "minor")
    assert parse_key("F#") == (6, "major")
    assert parse_key("f♯ minor") == (6, "minor")
    assert parse_key("8a") == (9, "minor")


def test_distance():
    assert camelot_distance("8A", "8B") == (0, True)
    assert camelot_distance("12A", "1A") == (1, False)
    assert camelot_distance("3B", "9B") == (6, False)


@pytest.mark.parametrize("bad", ["H minor", "", "13A", "8C", "minor"])
def test_bad_key_names(bad):
    with pytest.raises(ParameterError, match="key|Camelot"):
        parse_key(bad)


def test_bad_arguments():
    with pytest.raises(ParameterError, match="tonic_pc must be an int in 0..11"):
        to_camelot(12, "major")
    with pytest.raises(ParameterError, match="mode must be one of"):
        key_name(0, "dorian")
    with pytest.raises(ParameterError, match="Camelot code must be"):
        camelot_distance("0A", "1A")
