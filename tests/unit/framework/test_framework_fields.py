"""Field parsing follows Vault's rules, and errors never echo the value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.framework import fields as f

T = fw.FieldType


# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (3600, 3600),
        ("3600", 3600),
        ("1h", 3600),
        ("1h30m", 5400),
        ("90s", 90),
        ("0", 0),
        ("", 0),
        (0, 0),
        ("7d", 7 * 86400),
        ("1.5h", 5400),
        ("1500ms", 1),
        ("2m0.9s", 120),
        (60.0, 60),
    ],
)
def test_duration_accepts_vault_forms(raw: Any, seconds: int) -> None:
    assert T.DURATION_SECOND.parse(raw) == seconds


@pytest.mark.parametrize(
    "raw", ["1x", "h", "1H", "abc", "1.5", 1.5, True, [1], {"a": 1}, "1d2h", " 1h", "--1h"]
)
def test_duration_rejects_other_forms(raw: Any) -> None:
    with pytest.raises(fw.FieldValueError):
        T.DURATION_SECOND.parse(raw)


def test_duration_negative_only_when_signed() -> None:
    with pytest.raises(fw.FieldValueError, match="negative"):
        T.DURATION_SECOND.parse("-1h")
    assert T.SIGNED_DURATION_SECOND.parse("-1h") == -3600
    assert T.SIGNED_DURATION_SECOND.parse(-5) == -5


def test_duration_overflow_rejected() -> None:
    with pytest.raises(fw.FieldValueError):
        T.DURATION_SECOND.parse(10**12)
    with pytest.raises(fw.FieldValueError):
        T.DURATION_SECOND.parse("99999999999h")


@given(st.integers(min_value=0, max_value=10**9))
def test_duration_integer_and_text_agree(n: int) -> None:
    assert T.DURATION_SECOND.parse(n) == n
    assert T.DURATION_SECOND.parse(str(n)) == n
    assert T.DURATION_SECOND.parse(f"{n}s") == n


@given(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=59),
    st.integers(min_value=0, max_value=59),
)
def test_duration_go_components_sum(h: int, m: int, s: int) -> None:
    assert T.DURATION_SECOND.parse(f"{h}h{m}m{s}s") == h * 3600 + m * 60 + s


_UNIT_NANOS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**5),  # 5 x 10**5 h stay inside int64 ns
            st.text("0123456789", max_size=12),
            st.sampled_from(sorted(_UNIT_NANOS)),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["", "-"]),
)
def test_duration_components_sum_exactly(parts: list[tuple[int, str, str]], sign: str) -> None:
    """Fractions of each component add up exactly before the total is truncated to whole
    seconds toward zero ("0.5s0.5s" is 1, not a hair under): checked against rational
    arithmetic."""
    text = sign + "".join(f"{whole}.{frac}{unit}" for whole, frac, unit in parts)
    exact = sum(
        (Fraction(f"{whole}.{frac or '0'}") * _UNIT_NANOS[unit] for whole, frac, unit in parts),
        Fraction(0),
    )
    assert T.SIGNED_DURATION_SECOND.parse(text) == int((-1 if sign else 1) * exact / 10**9)


@pytest.mark.parametrize(
    ("text", "seconds"), [("0.5s0.5s", 1), ("0.1s0.9s", 1), ("0.3333333333s0.6666666667s", 1)]
)
def test_duration_fractions_are_not_rounded_per_component(text: str, seconds: int) -> None:
    assert T.DURATION_SECOND.parse(text) == seconds


@given(st.integers(min_value=0, max_value=10**7))
def test_format_duration_round_trips(n: int) -> None:
    text = fw.format_duration(n)
    assert fw.parse_duration_seconds(text) == n
    assert not text.endswith("m0s")
    assert "h0m" not in text


def test_format_duration_trims_zero_units() -> None:
    assert fw.format_duration(3600) == "1h"
    assert fw.format_duration(5400) == "1h30m"
    assert fw.format_duration(90) == "1m30s"
    assert fw.format_duration(3605) == "1h5s"
    assert fw.format_duration(0) == "0s"


# --- booleans and integers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (True, True),
        ("true", True),
        ("T", True),
        ("1", True),
        (1, True),
        (2.5, True),
        ("false", False),
        ("0", False),
        ("", False),
        (0, False),
    ],
)
def test_bool_weak_forms(raw: Any, value: bool) -> None:
    assert T.BOOL.parse(raw) is value


@pytest.mark.parametrize("raw", ["yes", "on", "tRUE", [True], {}])
def test_bool_rejects_other_spellings(raw: Any) -> None:
    with pytest.raises(fw.FieldValueError, match="boolean"):
        T.BOOL.parse(raw)


@given(st.booleans())
def test_bool_round_trips_through_text(b: bool) -> None:
    assert T.BOOL.parse(str(b).lower()) is b
    assert T.BOOL.parse(str(b)) is b
    assert T.BOOL.parse(int(b)) is b


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_int_round_trips(n: int) -> None:
    assert T.INT.parse(n) == n
    assert T.INT.parse(str(n)) == n
    assert T.INT.parse(hex(n)) == n


@given(
    st.one_of(
        st.integers(min_value=2**63, max_value=2**80),
        st.integers(min_value=-(2**80), max_value=-(2**63) - 1),
    )
)
def test_int_outside_64_bits_rejected(n: int) -> None:
    with pytest.raises(fw.FieldValueError):
        T.INT.parse(n)


@pytest.mark.parametrize(
    ("raw", "value"), [("017", 15), ("0x1f", 31), ("", 0), (True, 1), (7.0, 7), ("-12", -12)]
)
def test_int_go_forms(raw: Any, value: int) -> None:
    assert T.INT.parse(raw) == value


@pytest.mark.parametrize("raw", ["1.5", 1.5, "abc", " 1", "1 ", "--1", [1], None])
def test_int_rejects(raw: Any) -> None:
    with pytest.raises(fw.FieldValueError, match="integer"):
        T.INT.parse(raw)


# --- strings ----------------------------------------------------------------------------


def test_string_weak_forms() -> None:
    assert T.STRING.parse(5) == "5"
    assert T.STRING.parse(True) == "1"
    assert T.STRING.parse(3.0) == "3"
    assert T.STRING.parse(0.25) == "0.25"
    assert T.LOWERCASE_STRING.parse("MiXeD") == "mixed"
    with pytest.raises(fw.FieldValueError):
        T.STRING.parse(["a"])


def _go_float_text(value: float) -> str:
    """What Go's strconv.FormatFloat(f, 'f', -1, 64) writes, by decimal arithmetic."""
    number = Decimal(repr(value))
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_as_string_is_shortest_digits_without_exponent(value: float) -> None:
    text = T.STRING.parse(value)
    assert text == _go_float_text(value)
    assert "e" not in text
    assert float(text) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e21, "1" + "0" * 21),
        (1.5e-07, "0.00000015"),
        (-2.5, "-2.5"),
        (-0.0, "0"),
        (123.0, "123"),
        (1.2345678901234567e30, "1234567890123456700000000000000"),
    ],
)
def test_float_as_string_known_forms(value: float, text: str) -> None:
    assert T.STRING.parse(value) == text


@pytest.mark.parametrize("name", ["a", "role-1", "my.role_2", "A9"])
def test_name_string_accepts(name: str) -> None:
    assert T.NAME_STRING.parse(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", ".a", "a/b", "a b", "ünï"])
def test_name_string_rejects(name: str) -> None:
    with pytest.raises(fw.FieldValueError, match="name"):
        T.NAME_STRING.parse(name)


# --- slices and maps --------------------------------------------------------------------

_item = st.text(alphabet=st.characters(blacklist_characters=","), min_size=1).filter(
    lambda s: s.strip() == s and s != ""
)


@given(st.lists(_item, min_size=1))
def test_comma_slice_string_and_list_agree(items: list[str]) -> None:
    assert T.COMMA_STRING_SLICE.parse(",".join(items)) == items
    assert T.COMMA_STRING_SLICE.parse(items) == items


@given(st.lists(_item, min_size=1))
def test_comma_slice_trims_whitespace(items: list[str]) -> None:
    assert T.COMMA_STRING_SLICE.parse(" , ".join(items)) == items


def test_comma_slice_details() -> None:
    assert T.COMMA_STRING_SLICE.parse("") == []
    assert T.COMMA_STRING_SLICE.parse("a,,b") == ["a", "", "b"]
    # List items are not split again, as in Vault.
    assert T.COMMA_STRING_SLICE.parse(["a,b", "c"]) == ["a,b", "c"]
    assert T.COMMA_STRING_SLICE.parse([1, True]) == ["1", "1"]
    with pytest.raises(fw.FieldValueError):
        T.COMMA_STRING_SLICE.parse([["nested"]])


def test_string_slice_does_not_split() -> None:
    assert T.STRING_SLICE.parse("a,b") == ["a,b"]
    assert T.STRING_SLICE.parse([" a ", "b"]) == ["a", "b"]
    assert T.STRING_SLICE.parse("") == []


def test_comma_int_slice() -> None:
    assert T.COMMA_INT_SLICE.parse("1,2,3") == [1, 2, 3]
    assert T.COMMA_INT_SLICE.parse([4, "5"]) == [4, 5]
    with pytest.raises(fw.FieldValueError):
        T.COMMA_INT_SLICE.parse("1,x")


_key = st.text(alphabet=st.characters(blacklist_characters="="), min_size=1)


@given(st.dictionaries(_key, st.text()))
def test_kv_pairs_list_and_map_agree(pairs: dict[str, str]) -> None:
    as_list = [f"{k}={v}" for k, v in pairs.items()]
    assert T.KV_PAIRS.parse(as_list) == pairs
    assert T.KV_PAIRS.parse(pairs) == pairs


def test_kv_pairs_details() -> None:
    assert T.KV_PAIRS.parse("a=b=c") == {"a": "b=c"}
    assert T.KV_PAIRS.parse({"n": 5}) == {"n": "5"}
    for bad in (["novalue"], ["=v"], [["x"]]):
        with pytest.raises(fw.FieldValueError, match="key=value"):
            T.KV_PAIRS.parse(bad)


def test_map_and_slice() -> None:
    assert T.MAP.parse({"a": [1]}) == {"a": [1]}
    assert T.MAP.parse([]) == {}
    assert T.MAP.parse([{"a": 1}, {"b": 2}]) == {"a": 1, "b": 2}
    with pytest.raises(fw.FieldValueError):
        T.MAP.parse("a=b")
    assert T.SLICE.parse("x") == ["x"]
    assert T.SLICE.parse([1, "a"]) == [1, "a"]


def test_header_float_time() -> None:
    assert T.HEADER.parse({"content-type": "text/json", "accept": ["a", "b"]}) == {
        "Content-Type": ["text/json"],
        "Accept": ["a", "b"],
    }
    assert T.HEADER.parse(["x-a:1", "x-a:2"]) == {"X-A": ["1", "2"]}
    assert T.HEADER.parse('{"a": "b"}') == {"A": ["b"]}
    with pytest.raises(fw.FieldValueError):
        T.HEADER.parse(["nocolon"])
    assert T.FLOAT.parse("1.5") == 1.5
    assert T.FLOAT.parse(2) == 2.0
    with pytest.raises(fw.FieldValueError):
        T.FLOAT.parse("one")
    assert T.TIME.parse("2024-01-02T03:04:05Z") == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert T.TIME.parse("2024-01-02T05:04:05+02:00") == dt.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC
    )
    assert T.TIME.parse(0) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(fw.FieldValueError):
        T.TIME.parse("2024-01-02")


# --- schema, defaults, FieldData --------------------------------------------------------


def test_every_type_has_a_zero_and_a_label() -> None:
    for field_type in fw.FieldType:
        assert field_type.zero() is not None
        assert field_type.label
    assert T.COMMA_STRING_SLICE.label == "slice"
    assert T.DURATION_SECOND.label == "duration (sec)"
    assert T.KV_PAIRS.label == "keypair"


def test_bad_default_is_a_declaration_error() -> None:
    with pytest.raises(ValueError, match="default"):
        fw.Field(T.INT, default="many")


def test_field_data_defaults_and_presence() -> None:
    schema = {
        "ttl": fw.Field(T.DURATION_SECOND, default="1h"),
        "count": fw.Field(T.INT),
        "tags": fw.Field(T.COMMA_STRING_SLICE),
        "old": fw.Field(T.STRING, deprecated=True),
        "new": fw.Field(T.STRING),
    }
    data = fw.FieldData({"count": "3", "tags": None, "old": "x"}, schema)
    assert data.get("ttl") == 3600
    assert data.get_ok("ttl") == (3600, False)
    assert data.get_ok("count") == (3, True)
    assert data.get_ok("tags") == ([], True)  # JSON null: provided, the zero value
    assert data.get_first("new", "old") == ("x", True)
    assert data.get_int("count") == 3
    with pytest.raises(KeyError):
        data.get("undeclared")
    with pytest.raises(TypeError):
        data.get_str("count")


def test_validation_problem_names_field_and_rule_but_not_value() -> None:
    schema = {"secret_key": fw.Field(T.INT, sensitive=True)}
    problems = fw.FieldData({"secret_key": "hunter2-SECRET"}, schema).validate()
    assert len(problems) == 1
    assert '"secret_key"' in problems[0].message
    assert "integer" in problems[0].message
    assert "hunter2" not in problems[0].message


@given(st.text().map(lambda s: "\x00" + s))
def test_rule_messages_never_contain_the_value(value: str) -> None:
    # The NUL marker makes every value invalid and impossible to find in a rule by chance.
    for field_type in (T.INT, T.BOOL, T.DURATION_SECOND, T.NAME_STRING, T.TIME, T.FLOAT):
        with pytest.raises(fw.FieldValueError) as caught:
            field_type.parse(value)
        assert "\x00" not in str(caught.value)


def test_sensitive_marks_display_attrs() -> None:
    attrs = fw.Field(sensitive=True).effective_display_attrs()
    assert attrs is not None
    assert attrs.sensitive
    assert fw.Field().effective_display_attrs() is None
    assert f.parse_string(1) == "1"


def test_null_is_the_zero_value_not_the_default() -> None:
    schema = {"ttl": fw.Field(T.DURATION_SECOND, default="1h"), "name": fw.Field(T.STRING)}
    data = fw.FieldData({"ttl": None, "name": None}, schema)
    assert data.validate() == []
    assert data.get_ok("ttl") == (0, True)
    assert data.get_ok("name") == ("", True)
