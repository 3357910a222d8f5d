"""Route patterns: Vault's helper regexes, anchoring, captures and OpenAPI expansion."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.framework.patterns import UnpresentablePatternError, expand_pattern
from tencentcloud_secrets_shim import logical

_WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
_names = st.text(alphabet=_WORD + "-.", min_size=1, max_size=30)
_GO_NAME = re.compile(r"\w(([\w.-]+)?\w)?", re.ASCII)


def _noop(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
    return None


def _role_path() -> fw.Path:
    return fw.Path(
        "roles/" + fw.generic_name_regex("name"),
        fields={"name": fw.Field(fw.FieldType.STRING)},
        operations={logical.READ: fw.Operation(_noop)},
    )


@given(_names)
def test_generic_name_matches_exactly_vaults_rule(name: str) -> None:
    captures = _role_path().match("roles/" + name)
    expected = _GO_NAME.fullmatch(name) is not None
    assert (captures is not None) is expected
    if captures is not None:
        assert captures == {"name": name}


@given(_names, _names)
def test_generic_name_never_spans_a_slash(a: str, b: str) -> None:
    assert _role_path().match(f"roles/{a}/{b}") is None


def test_generic_name_is_ascii_like_re2() -> None:
    assert _role_path().match("roles/ünï") is None
    assert _role_path().match("roles/x\n") is None


@given(st.text(alphabet=_WORD + "/-._", max_size=40))
def test_match_all_captures_everything(rest: str) -> None:
    path = fw.Path("leases/" + fw.match_all_regex("rest"), operations={})
    assert path.match("leases/" + rest) == {"rest": rest}


def test_optional_param_and_optional_parts() -> None:
    path = fw.Path("creds/" + fw.generic_name_regex("name") + fw.optional_param_regex("extra"))
    assert path.match("creds/app") == {"name": "app"}
    assert path.match("creds/app/a/b") == {"name": "app", "extra": "a/b"}
    parts = fw.Path("x" + fw.optional_parts("/a", "/b"))
    assert parts.match("x") == {}
    assert parts.match("x/a") == {}
    assert parts.match("x/a/b") == {}
    assert parts.match("x/b") is None


def test_patterns_are_anchored_once() -> None:
    assert fw.Path("config").pattern == "^config$"
    assert fw.Path("^config$").pattern == "^config$"
    assert fw.Path("config").match("config/extra") is None
    assert fw.Path("config").match("my-config") is None


def test_declaration_errors() -> None:
    with pytest.raises(ValueError, match="existence check"):
        fw.Path("x", operations={logical.CREATE: fw.Operation(_noop)})
    with pytest.raises(ValueError, match="blank"):
        fw.Path("")
    with pytest.raises(ValueError, match="unknown operations"):
        fw.Path("x", operations={"frobnicate": fw.Operation(_noop)})
    with pytest.raises(re.error):
        fw.Path("(unclosed")


def test_path_append_keeps_order() -> None:
    a, b, c = fw.Path("a"), fw.Path("b"), fw.Path("c")
    assert fw.path_append([a, b], [c]) == [a, b, c]


# --- OpenAPI expansion ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "paths"),
    [
        ("roles/?$", ("roles",)),
        ("^roles/" + fw.generic_name_regex("name") + "$", ("roles/{name}",)),
        (
            "creds/" + fw.generic_name_regex("name") + fw.optional_param_regex("x"),
            ("creds/{name}", "creds/{name}/{x}"),
        ),
        ("keys/(internal|exported)", ("keys/internal", "keys/exported")),
        ("rotate(-root)?", ("rotate", "rotate-root")),
        (r"a\.b", ("a.b",)),
        ("(?i)config", ("config",)),
    ],
)
def test_expand_pattern(pattern: str, paths: tuple[str, ...]) -> None:
    assert expand_pattern(pattern).paths == paths


def test_expand_pattern_collects_captures_from_every_branch() -> None:
    expanded = expand_pattern("a(/(?P<x>[^/]+)|/b/(?P<y>.+))?")
    assert expanded.captures == {"x", "y"}
    assert expanded.paths == ("a", "a/{x}", "a/b/{y}")


@pytest.mark.parametrize("pattern", [".*", "roles/[a-z]+", r"x\d", "a+"])
def test_unpresentable_patterns(pattern: str) -> None:
    with pytest.raises(UnpresentablePatternError):
        expand_pattern(pattern)


@given(st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=6), min_size=1, max_size=4))
def test_expanded_paths_are_matched_by_the_pattern(segments: list[str]) -> None:
    # Every literal expansion of a pattern of optional parts must match the pattern itself.
    pattern = segments[0] + fw.optional_parts(*("/" + s for s in segments[1:]))
    path = fw.Path(pattern)
    expanded = expand_pattern(path.pattern).paths
    assert len(expanded) == len(segments)
    for literal in expanded:
        assert path.match(literal) is not None
