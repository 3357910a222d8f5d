"""Field parsing follows Vault's rules, and errors never echo the value."""

from __future__ import annotations

import datetime as dt
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
