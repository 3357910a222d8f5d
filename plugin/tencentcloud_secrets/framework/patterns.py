"""Turn a route's regular expression into the OpenAPI paths it stands for.

``roles/(?P<name>\\w+)(/(?P<part>.+))?`` becomes ``roles/{name}`` and
``roles/{name}/{part}``. Only literals, named captures, groups, alternation and ``?`` can be
expressed in OpenAPI; anything else outside a named capture (``.``, ``*``, classes) makes the
pattern unpresentable, and the caller then documents the raw pattern without operations,
as Vault does. The parser here understands just enough regex syntax to walk a pattern; it
never decides what matches (``re`` does that).
"""

from __future__ import annotations

import dataclasses

_ZERO_WIDTH_ESCAPES = frozenset("bBAzZ")
_CLASS_ESCAPES = frozenset("wWdDsS")
_CONTROL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}


class UnpresentablePatternError(ValueError):
    """The pattern uses regex features that OpenAPI paths cannot express."""


@dataclasses.dataclass(frozen=True)
class ExpandedPattern:
    """The OpenAPI path strings of one pattern, and every capture name seen on the way."""

    paths: tuple[str, ...]
    captures: frozenset[str]


@dataclasses.dataclass(frozen=True)
class _Literal:
    text: str


@dataclasses.dataclass(frozen=True)
class _Empty:
    pass


@dataclasses.dataclass(frozen=True)
class _Unsupported:
    pass


@dataclasses.dataclass(frozen=True)
class _Concat:
    parts: tuple[_Node, ...]


@dataclasses.dataclass(frozen=True)
class _Alternate:
    options: tuple[_Node, ...]


@dataclasses.dataclass(frozen=True)
class _Optional:
    child: _Node


@dataclasses.dataclass(frozen=True)
class _Capture:
    name: str
    child: _Node


_Node = _Literal | _Empty | _Unsupported | _Concat | _Alternate | _Optional | _Capture


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> _Node:
        node = self.alternation()
        if self.pos != len(self.text):
            raise ValueError(f"unbalanced parenthesis at position {self.pos}")
        return node

    def alternation(self) -> _Node:
        options = [self.concat()]
        while self.peek() == "|":
            self.pos += 1
            options.append(self.concat())
        return options[0] if len(options) == 1 else _Alternate(tuple(options))

    def concat(self) -> _Node:
        parts: list[_Node] = []
        while self.peek() not in ("", "|", ")"):
            atom = self.atom()
            parts.append(self.quantified(atom))
        return parts[0] if len(parts) == 1 else _Concat(tuple(parts))

    def quantified(self, atom: _Node) -> _Node:
        char = self.peek()
        if char == "?":
            self.pos += 1
            node: _Node = _Optional(atom)
        elif char in ("*", "+"):
            self.pos += 1
            node = _Unsupported()
        elif char == "{" and self._repeat_length():
            self.pos += self._repeat_length()
            node = _Unsupported()
        else:
            return atom
        if self.peek() in ("?", "+"):  # lazy or possessive modifier
            self.pos += 1
        return node

    def _repeat_length(self) -> int:
        end = self.text.find("}", self.pos)
        if end < 0:
            return 0
        body = self.text[self.pos + 1 : end]
        lo, _, hi = body.partition(",")
        if lo.isdigit() and (hi == "" or hi.isdigit()):
            return end - self.pos + 1
        return 0

    def atom(self) -> _Node:
        char = self.peek()
        if char == "(":
            return self.group()
        if char == "[":
            self.skip_class()
            return _Unsupported()
        if char == "\\":
            return self.escape()
        self.pos += 1
        if char in ("^", "$"):
            return _Empty()
        if char == ".":
            return _Unsupported()
        return _Literal(char)

    def escape(self) -> _Node:
        char = self.text[self.pos + 1 : self.pos + 2]
        self.pos += 2
        if not char:
            raise ValueError("pattern ends with a backslash")
        if char in _ZERO_WIDTH_ESCAPES:
            return _Empty()
        if char in _CLASS_ESCAPES or (char.isalnum() and char not in _CONTROL_ESCAPES):
            return _Unsupported()
        return _Literal(_CONTROL_ESCAPES.get(char, char))

    def skip_class(self) -> None:
        self.pos += 1
        if self.peek() == "^":
            self.pos += 1
        if self.peek() == "]":
            self.pos += 1
        while self.peek() not in ("", "]"):
            self.pos += 2 if self.peek() == "\\" else 1
        if self.peek() != "]":
            raise ValueError("unterminated character class")
        self.pos += 1

    def group(self) -> _Node:
        self.pos += 1
        name = ""
        if self.text.startswith("?P<", self.pos):
            end = self.text.index(">", self.pos)
            name = self.text[self.pos + 3 : end]
            self.pos = end + 1
        elif self.text.startswith("?:", self.pos):
            self.pos += 2
        elif self.peek() == "?":
            # Inline flags "(?i)" or "(?i:...)"; lookarounds have no OpenAPI meaning.
            end = self.pos + 1
            while end < len(self.text) and self.text[end].isalpha():
                end += 1
            if end == self.pos + 1 or self.text[end : end + 1] not in (")", ":"):
                self.skip_to_group_end()
                return _Unsupported()
            self.pos = end
            if self.peek() == ")":
                self.pos += 1
                return _Empty()
            self.pos += 1
        inner = self.alternation()
        if self.peek() != ")":
            raise ValueError("missing closing parenthesis")
        self.pos += 1
        if name:
            return _Capture(name, inner)
        return inner

    def skip_to_group_end(self) -> None:
        depth = 1
        while depth and self.pos < len(self.text):
            char = self.peek()
            if char == "\\":
                self.pos += 2
                continue
            if char == "[":
                self.skip_class()
                continue
            depth += {"(": 1, ")": -1}.get(char, 0)
            self.pos += 1


@dataclasses.dataclass
class _Collector:
    text: str = ""
    # Length of ``text`` right after an optional "/" was appended; a path that ends there is
    # the trailing-slash variant of another and is dropped, as Vault does.
    optional_slash_at: int = -1

    def copy(self) -> _Collector:
        return _Collector(self.text, self.optional_slash_at)


def _walk(node: _Node, collectors: list[_Collector], captures: set[str]) -> list[_Collector]:
    match node:
        case _Empty():
            return collectors
        case _Literal(text):
            for collector in collectors:
                collector.text += text
            return collectors
        case _Concat(parts):
            for part in parts:
                collectors = _walk(part, collectors, captures)
            return collectors
        case _Alternate(options):
            result: list[_Collector] = []
            for option in options:
                result.extend(_walk(option, [c.copy() for c in collectors], captures))
            return result
        case _Optional(child):
            with_child = _walk(child, [c.copy() for c in collectors], captures)
            if child == _Literal("/"):
                for collector in with_child:
                    collector.optional_slash_at = len(collector.text)
            return collectors + with_child
        case _Capture(name, _):
            for collector in collectors:
                collector.text += "{" + name + "}"
            captures.add(name)
            return collectors
        case _:
            raise UnpresentablePatternError("pattern cannot be expressed as OpenAPI paths")


def expand_pattern(pattern: str) -> ExpandedPattern:
    """Every OpenAPI path a route pattern stands for, in a stable order.

    Raises ``UnpresentablePatternError`` when a part outside the named captures cannot be
    written as an OpenAPI path.
    """
    captures: set[str] = set()
    collectors = _walk(_Parser(pattern).parse(), [_Collector()], captures)
    paths = tuple(c.text for c in collectors if c.optional_slash_at != len(c.text))
    return ExpandedPattern(paths=paths, captures=frozenset(captures))
