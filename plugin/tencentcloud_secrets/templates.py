"""Name templates for CAM users and STS sessions, in the subset of Vault's syntax they need.

A template is text with ``{{ ... }}`` actions. An action is a pipeline: a value, then any
number of ``| function`` steps. Values: ``.RoleName``, ``.DisplayName``, ``.MountAccessor``,
``random N`` (N letters and digits from a CSPRNG), ``unix_time``, ``unix_time_millis``,
``uuid``, or a quoted string. Steps: ``truncate N``, ``lowercase``, ``uppercase``,
``replace "old" "new"``. Values from Vault (display name, role name) have every character CAM
does not allow in names replaced by ``-`` before they reach a step, so a template can only
produce names of CAM's alphabet plus whatever literal text it holds itself.

Templates are parsed once, at role write, so a mistake is a 400 then and never at issue time.
That includes size: ``replace`` can multiply a value's length, and a handful of chained
replaces once turned a 100-character template into a 58-million-character name. So the
parser works out, for every pipeline, the longest value it could ever build (from the caps
below, not from sample input) and refuses a template that could exceed them; rendering then
checks the same caps again before it builds anything, as a second line of defence.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import secrets
import shlex
import string
import time
from collections.abc import Callable, Mapping

from tencentcloud_secrets.framework.uuids import random_uuid

CAM_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
_NOT_CAM = re.compile(r"[^\w+=,.@-]", re.ASCII)
_ACTION = re.compile(r"{{(.*?)}}", re.DOTALL)
_NUMBER = re.compile(r"[0-9]{1,7}")
_RANDOM_ALPHABET = string.ascii_letters + string.digits
_FIELDS = {".RoleName": "role_name", ".DisplayName": "display_name", ".MountAccessor": "mount"}

MAX_TEMPLATE_CHARS = 512
"""Longest template accepted. No template may produce a name over 128 characters (AssumeRole's
RoleSessionName; CAM user names stop at 64) and the defaults are under 100, so 512 leaves room
for literal text and several pipelines while keeping parsing, and any echo of the template in
an error, small."""
MAX_FIELD_CHARS = 256
"""Values from Vault (role name, display name, mount accessor) are cut to this length before
the first step sees them: twice the longest name a template may produce, so no real template
notices the cut, and it gives the size analysis a fixed starting point."""
MAX_VALUE_CHARS = 1024
"""Longest value any pipeline step, and the whole rendered name, may hold: eight times the
longest permitted name, enough for an uncut value from Vault to pass through a few replaces
before a truncate, and small enough that rendering never does real work."""
QUOTE_CHARS = 48
"""How much of a name, template or value an error message quotes."""
_TIME_DIGITS = 20  # an int64 of seconds or milliseconds never has more digits
_UUID_CHARS = 36
_CASE_GROWTH = 3  # Unicode case mappings turn one character into at most three ("ﬃ" -> "FFI")


class TemplateError(ValueError):
    """The template cannot be parsed, or could build too much; the message says where and why."""


def shown(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` as an error message may quote it: control characters escaped, and at most
    ``limit`` characters of it, so a message never grows with the input it complains about."""
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    if len(text) <= limit and len(escaped) <= limit:
        return escaped
    return f"{escaped[:limit]}... ({len(text)} characters)"


@dataclasses.dataclass(frozen=True)
class NameContext:
    """What a template may refer to."""

    role_name: str
    display_name: str = ""
    mount: str = ""


@dataclasses.dataclass(frozen=True)
class Bound:
    """The longest value a pipeline can hold at some point, and whether it is pure ASCII (case
    changes keep the length of ASCII text; other text may grow)."""

    chars: int
    ascii: bool = True


Step = Callable[[str, NameContext], str]
Growth = Callable[[Bound], Bound]


def _cam_safe(value: str) -> str:
    return _NOT_CAM.sub("-", value[:MAX_FIELD_CHARS])


def _count(word: str, args: list[str], low: int, high: int) -> int:
    if len(args) != 1 or not _NUMBER.fullmatch(args[0]):
        raise TemplateError(f'"{word}" takes one whole number')
    number = int(args[0])
    if not low <= number <= high:
        raise TemplateError(f'"{word}" takes a number from {low} to {high}')
    return number


def _no_args(head: str, args: list[str]) -> None:
    if args:
        raise TemplateError(f'"{shown(head)}" takes no arguments')


def _source(words: list[str]) -> tuple[Step, Bound, int]:
    """The first command of a pipeline, the longest value it gives, and its random characters
    (for the uniqueness check)."""
    head, args = words[0], words[1:]
    if head in _FIELDS:
        _no_args(head, args)
        attribute = _FIELDS[head]
        return (lambda _, ctx: _cam_safe(getattr(ctx, attribute))), Bound(MAX_FIELD_CHARS), 0
    if head == "random":
        size = _count(head, args, 1, 64)
        return (
            (lambda _, __: random_text(size)),
            Bound(size),
            size,
        )
    if head in ("unix_time", "unix_time_millis", "uuid"):
        _no_args(head, args)
        if head == "uuid":
            return (lambda _, __: random_uuid()), Bound(_UUID_CHARS), 32
        scale = 1000 if head == "unix_time_millis" else 1
        return (lambda _, __: str(int(time.time() * scale))), Bound(_TIME_DIGITS), 0
    if not args and len(head) >= 2 and head[0] == head[-1] == '"':
        literal = head[1:-1]
        return (lambda _, __: literal), Bound(len(literal), literal.isascii()), 0
    raise TemplateError(f'unknown value "{shown(head)}"')


def _too_big(size: int) -> TemplateError:
    return TemplateError(
        f"a value would grow to {size} characters; values are limited to {MAX_VALUE_CHARS}"
    )


def _replace(old: str, new: str) -> tuple[Step, Growth]:
    if not old:
        raise TemplateError(
            '"replace" needs a non-empty string to search for (an empty one matches between '
            "every two characters)"
        )
    extra = len(new) - len(old)

    def run(value: str, _: NameContext) -> str:
        # Measure first: a replace that would overflow the cap never builds its result.
        size = len(value) + value.count(old) * extra if extra > 0 else len(value)
        if size > MAX_VALUE_CHARS:
            raise _too_big(size)
        return value.replace(old, new)

    def grow(bound: Bound) -> Bound:
        chars = bound.chars + (bound.chars // len(old)) * extra if extra > 0 else bound.chars
        return Bound(chars, bound.ascii and new.isascii())

    return run, grow


def _step(words: list[str]) -> tuple[Step, Growth]:
    head, args = words[0], words[1:]
    if head == "truncate":
        size = _count(head, args, 1, MAX_VALUE_CHARS)
        return (lambda value, _: value[:size]), (lambda b: Bound(min(b.chars, size), b.ascii))
    if head in ("lowercase", "uppercase"):
        _no_args(head, args)
        change: Callable[[str], str] = str.lower if head == "lowercase" else str.upper

        # At most three times a capped value is built, and ``render`` checks it at once.
        return (
            (lambda value, _: change(value)),
            (lambda b: b if b.ascii else Bound(b.chars * _CASE_GROWTH, False)),
        )
    if head == "replace":
        if len(args) != 2:
            raise TemplateError('"replace" takes two quoted strings')
        return _replace(args[0], args[1])
    raise TemplateError(f'unknown function "{shown(head)}"')


def _words(text: str) -> list[str]:
    try:
        lexer = shlex.shlex(text, posix=False)
        lexer.whitespace_split = True
        lexer.commenters = ""  # "#" is text here; as a comment it could leave no words at all
        words = list(lexer)
    except ValueError as exc:
        raise TemplateError(f"cannot read {{{{{shown(text)}}}}}: {exc}") from None
    if not words:
        raise TemplateError(f"empty command in {{{{{shown(text)}}}}}")
    return [
        w[1:-1] if len(w) >= 2 and w[0] == w[-1] == '"' and i else w for i, w in enumerate(words)
    ]


def _pipeline(action: str) -> tuple[tuple[Step, ...], Bound, int]:
    """Parse one action; refuse it if some value in it could outgrow ``MAX_VALUE_CHARS``."""
    stages = [s.strip() for s in action.split("|")]
    if not all(stages):
        raise TemplateError(f"empty command in {{{{{shown(action)}}}}}")
    source, bound, randomness = _source(_words(stages[0]))
    steps = [source]
    for stage in stages[1:]:
        step, grow = _step(_words(stage))
        bound = grow(bound)
        if bound.chars > MAX_VALUE_CHARS:
            raise TemplateError(
                f"{{{{{shown(action)}}}}} could build a value of {bound.chars} characters; "
                f"values are limited to {MAX_VALUE_CHARS} (truncate before replace)"
            )
        steps.append(step)
    return tuple(steps), bound, randomness


@dataclasses.dataclass(frozen=True)
class NameTemplate:
    """A parsed template; ``render`` gives a fresh name each call."""

    text: str
    parts: tuple[str | tuple[Step, ...], ...]
    random_chars: int

    @classmethod
    def parse(cls, text: str) -> NameTemplate:
        if len(text) > MAX_TEMPLATE_CHARS:
            raise TemplateError(
                f"the template is {len(text)} characters; at most {MAX_TEMPLATE_CHARS} are allowed"
            )
        if not text.strip():
            raise TemplateError("the template is empty")
        parts: list[str | tuple[Step, ...]] = []
        random_chars = 0
        total = 0
        position = 0
        for match in _ACTION.finditer(text):
            parts.append(text[position : match.start()])
            position = match.end()
            steps, bound, randomness = _pipeline(match.group(1))
            random_chars += randomness
            total += bound.chars
            parts.append(steps)
        rest = text[position:]
        if "{{" in rest or "}}" in rest:
            raise TemplateError("unbalanced {{ or }}")
        parts.append(rest)
        total += sum(len(p) for p in parts if isinstance(p, str))
        if total > MAX_VALUE_CHARS:
            raise TemplateError(
                f"the template could render {total} characters; names are limited to "
                f"{MAX_VALUE_CHARS} (truncate the values from Vault)"
            )
        return cls(text, tuple(p for p in parts if p != ""), random_chars)

    def render(self, context: NameContext) -> str:
        out: list[str] = []
        size = 0
        for part in self.parts:
            if isinstance(part, str):
                value = part
            else:
                value = ""
                for step in part:
                    value = step(value, context)
                    if len(value) > MAX_VALUE_CHARS:
                        raise _too_big(len(value))
            size += len(value)
            if size > MAX_VALUE_CHARS:
                raise _too_big(size)
            out.append(value)
        return "".join(out)


@functools.lru_cache(maxsize=256)
def parsed(text: str) -> NameTemplate:
    """``NameTemplate.parse``, remembered: a role's template is parsed once, not on every
    credential (a parsed template is immutable; a template that fails is not remembered)."""
    return NameTemplate.parse(text)


# Bytes at or above this are thrown away, so that every character is equally likely.
_UNBIASED_BELOW = 256 - 256 % len(_RANDOM_ALPHABET)


def random_text(size: int) -> str:
    """``size`` letters and digits from the system's CSPRNG, read in one call per name rather
    than one per character."""
    chars: list[str] = []
    while len(chars) < size:
        for byte in secrets.token_bytes(2 * size):
            if byte < _UNBIASED_BELOW:
                chars.append(_RANDOM_ALPHABET[byte % len(_RANDOM_ALPHABET)])
                if len(chars) == size:
                    break
    return "".join(chars)


def check_name(name: str, *, what: str, low: int, high: int) -> str | None:
    """Why ``name`` breaks CAM's name rule (``[\\w+=,.@-]``, length bounds), or None."""
    if not low <= len(name) <= high:
        return f'{what} "{shown(name)}" is {len(name)} characters; it must be {low} to {high}'
    if not CAM_NAME.fullmatch(name):
        return f'{what} "{shown(name)}" may only hold letters, digits and + = , . @ _ -'
    return None


def sample_context(role_name: str, extra: Mapping[str, str] | None = None) -> NameContext:
    """The longest plausible context, used to check a template's output at role write."""
    values = {"display_name": "d" * 64, "mount": "auth_approle_0123abcd", **(extra or {})}
    return NameContext(role_name=role_name, **values)
