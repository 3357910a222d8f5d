"""Name templates for CAM users and STS sessions, in the subset of Vault's syntax they need.

A template is text with ``{{ ... }}`` actions. An action is a pipeline: a value, then any
number of ``| function`` steps. Values: ``.RoleName``, ``.DisplayName``, ``.MountAccessor``,
``random N`` (N letters and digits from a CSPRNG), ``unix_time``, ``unix_time_millis``,
``uuid``, or a quoted string. Steps: ``truncate N``, ``lowercase``, ``uppercase``,
``replace "old" "new"``. Values from Vault (display name, role name) have every character CAM
does not allow in names replaced by ``-`` before they reach a step, so a template can only
produce names of CAM's alphabet plus whatever literal text it holds itself.

Templates are parsed once, at role write, so a mistake is a 400 then and never at issue time.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shlex
import string
import time
import uuid
from collections.abc import Callable, Mapping

CAM_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
_NOT_CAM = re.compile(r"[^\w+=,.@-]", re.ASCII)
_ACTION = re.compile(r"{{(.*?)}}", re.DOTALL)
_RANDOM_ALPHABET = string.ascii_letters + string.digits
_FIELDS = {".RoleName": "role_name", ".DisplayName": "display_name", ".MountAccessor": "mount"}


class TemplateError(ValueError):
    """The template cannot be parsed; the message says where and why."""


@dataclasses.dataclass(frozen=True)
class NameContext:
    """What a template may refer to."""

    role_name: str
    display_name: str = ""
    mount: str = ""


Step = Callable[[str, NameContext], str]


def _cam_safe(value: str) -> str:
    return _NOT_CAM.sub("-", value)


def _count(word: str, args: list[str], low: int, high: int) -> int:
    if len(args) != 1 or not args[0].isdigit():
        raise TemplateError(f'"{word}" takes one whole number')
    number = int(args[0])
    if not low <= number <= high:
        raise TemplateError(f'"{word}" takes a number from {low} to {high}')
    return number


def _source(words: list[str]) -> tuple[Step, int]:
    """The first command of a pipeline; also returns its random characters (for checks)."""
    head, args = words[0], words[1:]
    if head in _FIELDS:
        if args:
            raise TemplateError(f'"{head}" takes no arguments')
        attribute = _FIELDS[head]
        return (lambda _, ctx: _cam_safe(getattr(ctx, attribute))), 0
    if head == "random":
        size = _count(head, args, 1, 64)
        return (lambda _, __: "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(size))), size
    if head in ("unix_time", "unix_time_millis", "uuid"):
        if args:
            raise TemplateError(f'"{head}" takes no arguments')
        if head == "uuid":
            return (lambda _, __: str(uuid.uuid4())), 32
        scale = 1000 if head == "unix_time_millis" else 1
        return (lambda _, __: str(int(time.time() * scale))), 0
    if not args and len(head) >= 2 and head[0] == head[-1] == '"':
        literal = head[1:-1]
        return (lambda _, __: literal), 0
    raise TemplateError(f'unknown value "{head}"')


def _step(words: list[str]) -> Step:
    head, args = words[0], words[1:]
    if head == "truncate":
        size = _count(head, args, 1, 1024)
        return lambda value, _: value[:size]
    if head in ("lowercase", "uppercase"):
        if args:
            raise TemplateError(f'"{head}" takes no arguments')
        return (
            (lambda value, _: value.lower())
            if head == "lowercase"
            else (lambda value, _: value.upper())
        )
    if head == "replace":
        if len(args) != 2:
            raise TemplateError('"replace" takes two quoted strings')
        old, new = args
        return lambda value, _: value.replace(old, new)
    raise TemplateError(f'unknown function "{head}"')


def _words(text: str) -> list[str]:
    try:
        lexer = shlex.shlex(text, posix=False)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError as exc:
        raise TemplateError(f"cannot read {{{{{text}}}}}: {exc}") from None
    return [
        w[1:-1] if len(w) >= 2 and w[0] == w[-1] == '"' and i else w for i, w in enumerate(words)
    ]


@dataclasses.dataclass(frozen=True)
class NameTemplate:
    """A parsed template; ``render`` gives a fresh name each call."""

    text: str
    parts: tuple[str | tuple[Step, ...], ...]
    random_chars: int

    @classmethod
    def parse(cls, text: str) -> NameTemplate:
        if not text.strip():
            raise TemplateError("the template is empty")
        parts: list[str | tuple[Step, ...]] = []
        random_chars = 0
        position = 0
        for match in _ACTION.finditer(text):
            parts.append(text[position : match.start()])
            position = match.end()
            stages = [s.strip() for s in match.group(1).split("|")]
            if not all(stages):
                raise TemplateError(f"empty command in {match.group(0)}")
            source, randomness = _source(_words(stages[0]))
            random_chars += randomness
            steps = [source, *(_step(_words(stage)) for stage in stages[1:])]
            parts.append(tuple(steps))
        rest = text[position:]
        if "{{" in rest or "}}" in rest:
            raise TemplateError("unbalanced {{ or }}")
        parts.append(rest)
        return cls(text, tuple(p for p in parts if p != ""), random_chars)

    def render(self, context: NameContext) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = ""
            for step in part:
                value = step(value, context)
            out.append(value)
        return "".join(out)


def check_name(name: str, *, what: str, low: int, high: int) -> str | None:
    """Why ``name`` breaks CAM's name rule (``[\\w+=,.@-]``, length bounds), or None."""
    if not low <= len(name) <= high:
        return f'{what} "{name}" is {len(name)} characters; it must be {low} to {high}'
    if not CAM_NAME.fullmatch(name):
        return f'{what} "{name}" may only hold letters, digits and + = , . @ _ -'
    return None


def sample_context(role_name: str, extra: Mapping[str, str] | None = None) -> NameContext:
    """The longest plausible context, used to check a template's output at role write."""
    values = {"display_name": "d" * 64, "mount": "auth_approle_0123abcd", **(extra or {})}
    return NameContext(role_name=role_name, **values)
