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


def test_one_camelot_table_in_wheel_order():
    import workbench.similarity
    from workbench.camelot import CAMELOT_CODES

    assert CAMELOT_CODES[:4] == ("1A", "1B", "2A", "2B") and CAMELOT_CODES[-1] == "12B"
    assert len(set(CAMELOT_CODES)) == 24
    assert workbench.similarity.CAMELOT_CODES is CAMELOT_CODES


def test_compact_key_encoding_is_pinned():
    """Saved similarity indexes store these integers: A codes 0..11, B codes 12..23."""
    from workbench.camelot import CAMELOT_CODES, code_at, index_of

    assert [index_of(f"{n}A") for n in range(1, 13)] == list(range(12))
    assert [index_of(f"{n}B") for n in range(1, 13)] == list(range(12, 24))
    assert index_of(" 8a ") == 7 and index_of("12b") == 23
    assert sorted(code_at(index_of(c)) for c in CAMELOT_CODES) == sorted(CAMELOT_CODES)
    assert [code_at(i) for i in (0, 11, 12, 23)] == ["1A", "12A", "1B", "12B"]


@pytest.mark.parametrize("bad", ["13A", "0B", "8C", "", None, 8, "8 A"])
def test_index_of_rejects_non_codes(bad):
    from workbench.camelot import index_of

    with pytest.raises(ParameterError, match=r"key must be a Camelot code 1A\.\.12A or 1B\.\.12B; got"):
        index_of(bad, name="key")


@pytest.mark.parametrize("bad", [-1, 24, 3.0, True, "3"])
def test_code_at_rejects_non_indices(bad):
    from workbench.camelot import code_at

    with pytest.raises(ParameterError, match=r"key index must be an integer in 0\.\.23; got"):
        code_at(bad)
