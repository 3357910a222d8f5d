"""Name templates stay small: every template is either refused at parse time with a short
message, or renders within the size caps, whatever its steps and whatever Vault hands in."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tencentcloud_secrets.templates import (
    MAX_FIELD_CHARS,
    MAX_TEMPLATE_CHARS,
    MAX_VALUE_CHARS,
    NameContext,
    NameTemplate,
    TemplateError,
    _replace,
    check_name,
    sample_context,
)

# An error message quotes at most a short excerpt of what it complains about.
MAX_MESSAGE_CHARS = 300
# The template from the report: 58 million characters from a 110-character template.
BOMB = "{{.RoleName" + ' | replace "" "aaaaaaaaaa"' * 7 + "}}"


def _refusal(text: str) -> str:
    with pytest.raises(TemplateError) as caught:
        NameTemplate.parse(text)
    message = str(caught.value)
    assert len(message) <= MAX_MESSAGE_CHARS, message
    return message


def test_the_reported_template_is_refused_before_it_renders() -> None:
    message = _refusal(BOMB)
    assert '"replace" needs a non-empty string to search for' in message


def test_a_template_longer_than_the_cap_is_refused() -> None:
    fits = "v" * (MAX_TEMPLATE_CHARS - len("{{random 8}}")) + "{{random 8}}"
    assert len(NameTemplate.parse(fits).render(sample_context("app"))) == MAX_TEMPLATE_CHARS - 4
    message = _refusal(fits + "v")
    assert f"at most {MAX_TEMPLATE_CHARS}" in message


def test_growth_beyond_the_value_cap_is_refused_at_parse_time() -> None:
    # Each step alone is harmless; chained, they could reach 2,560 characters.
    text = '{{.RoleName | replace "a" "aaaaaaaaaa" | replace "b" "bbbb"}}'
    assert f"values are limited to {MAX_VALUE_CHARS}" in _refusal(text)
    # Cutting first is fine: the bound then starts from 16 characters.
    cut = '{{.RoleName | truncate 16 | replace "a" "aaaaaaaaaa" | replace "b" "bbbb"}}'
    assert NameTemplate.parse(cut).render(NameContext("ab")) == "a" * 10 + "b" * 4


def test_the_whole_name_is_capped_too() -> None:
    text = "{{.DisplayName}}" * 5  # 5 x 256 characters from Vault
    assert "could render 1280 characters" in _refusal(text)


def test_replace_measures_before_it_builds() -> None:
    """The run-time check: a replace that would overflow never builds its result."""

    class NoReplace(str):
        def replace(self, *args: object, **kwargs: object) -> str:
            raise AssertionError("the oversized value was built")

    run, _ = _replace("a", "aaaa")
    with pytest.raises(TemplateError, match="would grow to 4000 characters"):
        run(NoReplace("a" * 1000), NameContext("r"))


def test_values_from_vault_are_cut_before_the_steps() -> None:
    template = NameTemplate.parse("{{.DisplayName}}")
    assert template.render(NameContext("r", display_name="x" * 100_000)) == "x" * MAX_FIELD_CHARS


def test_numbers_must_be_plain_digits() -> None:
    # "²".isdigit() is true, but int("²") raises a bare ValueError: that was a 500.
    assert "takes one whole number" in _refusal("{{random ²}}")


def test_a_hash_is_text_not_a_comment() -> None:
    # The lexer used to read "#" as the start of a comment, leaving no words: an IndexError.
    assert 'unknown value "#"' in _refusal("{{#}}")
    assert "unknown function" in _refusal("{{.RoleName | #x}}")


def test_error_messages_quote_only_an_excerpt() -> None:
    assert len(_refusal("{{" + "x" * 400 + "}}")) < 120
    problem = check_name("n" * 5000, what="the name", low=1, high=64)
    assert problem is not None
    assert len(problem) < 200
    assert "5000 characters" in problem


# --- the property --------------------------------------------------------------------------

_any_text = st.text(max_size=12)
# Search strings and replacements: arbitrary text, plus the ones that make values grow.
_old = st.one_of(st.sampled_from(["", "a", "d", "-"]), st.text(max_size=4))
_new = st.one_of(st.text(max_size=10), st.sampled_from(["aaaaaaaaaa", "--", "ddd", "ﬃ"]))
_sources = st.one_of(
    st.sampled_from([".RoleName", ".DisplayName", ".MountAccessor", "unix_time", "uuid"]),
    st.integers(0, 80).map(lambda n: f"random {n}"),
    _any_text.map(lambda s: f'"{s}"'),
    _any_text,  # anything at all, for the lexer
)
_replaces = st.tuples(_old, _new).map(lambda p: f'replace "{p[0]}" "{p[1]}"')
_steps = st.one_of(
    st.integers(0, 2000).map(lambda n: f"truncate {n}"),
    st.sampled_from(["lowercase", "uppercase"]),
    _replaces,
    _any_text,
)


def _action(source: st.SearchStrategy[str], steps: st.SearchStrategy[str]) -> Any:
    return st.tuples(source, st.lists(steps, max_size=5)).map(
        lambda a: "{{" + " | ".join([a[0], *a[1]]) + "}}"
    )


# Any pipeline, and (as often) a value from Vault put through replaces only: the kind that grows.
_actions = st.one_of(
    _action(_sources, _steps), _action(st.sampled_from([".RoleName", ".DisplayName"]), _replaces)
)
_templates = st.lists(st.one_of(_actions, _any_text), min_size=1, max_size=6).map("".join)
_vault_text = st.one_of(st.text(max_size=600), st.text("ad-", max_size=600))
_contexts = st.builds(
    NameContext, role_name=_vault_text, display_name=_vault_text, mount=st.text(max_size=40)
)


@settings(max_examples=400, deadline=None)
@given(_templates, _contexts)
@example('{{.RoleName | replace "" "aaaaaaaaaa" | replace "" "a"}}', NameContext("r" * 100))
@example('{{.DisplayName | replace "d" "dddddddddd"}}', NameContext("r", display_name="d" * 200))
def test_every_template_renders_within_the_caps_or_is_refused_briefly(
    text: str, context: NameContext
) -> None:
    refusal: TemplateError | None = None
    try:
        template = NameTemplate.parse(text)
    except TemplateError as exc:
        refusal = exc
    if refusal is not None:
        assert len(str(refusal)) <= MAX_MESSAGE_CHARS
        return
    # Walk the pipelines step by step: no intermediate value may exceed the cap.
    total = 0
    for part in template.parts:
        if isinstance(part, str):
            total += len(part)
            continue
        value = ""
        for step in part:
            value = step(value, context)
            assert len(value) <= MAX_VALUE_CHARS
        total += len(value)
    assert total <= MAX_VALUE_CHARS
    assert len(template.render(context)) <= MAX_VALUE_CHARS
