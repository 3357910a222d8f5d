"""The text of ``vault path-help``: per-path help and the backend's root help.

The layout (sections, indentation, field type names) matches Vault's own engines so that
operators read it the same way; the words are the engine's.
"""

from __future__ import annotations

from collections.abc import Iterable

from tencentcloud_secrets.framework.path import Path


def indent(count: int, text: str) -> str:
    prefix = " " * count
    return "\n".join(prefix + line for line in text.splitlines())


def path_help(path: Path, request_path: str) -> str:
    synopsis = path.help_synopsis.strip() or "<no synopsis>"
    description = path.help_description.strip() or "<no description>"
    out = [
        f"Request:        {request_path}",
        f"Matching Route: {path.pattern}",
        "",
        synopsis,
        "",
    ]
    if path.fields:
        out.append("## PARAMETERS")
        for name in sorted(path.fields):
            field = path.fields[name]
            text = field.description.strip() or "<no description>"
            if field.deprecated:
                text = f"(DEPRECATED) {text}"
            out += ["", f"{indent(4, name)} ({field.type.label})", "", indent(8, text)]
    out += ["", "## DESCRIPTION", "", description]
    return "\n".join(out).strip()


_PATHS_INTRO = (
    "Each route below is a pattern. For help on one of them, ask for help on any path\n"
    "that the pattern matches. Which of them you may use depends on the policies of\n"
    "your token."
)


def root_help(backend_help: str, paths: Iterable[Path]) -> str:
    out = ["## DESCRIPTION", "", backend_help.strip(), "", "## PATHS", "", _PATHS_INTRO, ""]
    for path in sorted(paths, key=lambda p: p.pattern):
        out += [indent(4, path.pattern), indent(8, path.help_synopsis.strip()), ""]
    return "\n".join(out).strip()
