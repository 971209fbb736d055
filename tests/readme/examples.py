"""The README's examples, read from its code blocks, and the rule a real run must meet.

A shell block holds examples: a line starting with `$ ` is a command (it goes on over the next
lines while a quote is open or a line ends with a backslash) and the lines under it, up to the
next command, are the output shown. A `python` block is a snippet. Blocks without a `$` show
commands for other machines (docker, kubectl); they are not run here.

A run matches what is shown when, line by line:
- `...` on a line of its own stands for any number of lines, and inside a line for any text;
- a JSON line (optionally followed by an HTTP status, as `curl -w ' %{http_code}'` prints it)
  has the same keys at every level, the same strings, booleans, nulls and integers, and a number
  wherever a float is shown: floats are measured values. Keys in VOLATILE (ids, times, paths,
  progress, the loss curve) may hold anything;
- in text, numbers and 32-hex ids may differ: they depend on the data and the run; words,
  punctuation and the order of lines may not.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

PROMPT = "$ "
VOLATILE = frozenset(
    {"job_id", "request_id", "created_at", "started_at", "finished_at", "heartbeat_at",
     "progress", "seconds", "sha256", "source", "store", "epochs_run", "best_epoch", "curve"}
)  # fmt: skip
NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?"
HEX_ID = r"[0-9a-f]{32}"
_TOKENS = re.compile(rf"(\.\.\.|\b{HEX_ID}\b|{NUMBER})")
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Example:
    line: int  # README line of the command
    kind: str  # "shell" or "python"
    command: str
    shown: list[str] = field(default_factory=list)

    @property
    def fails(self) -> bool:
        """Whether the output shown is a command's error line (`nns-train: error: ...`)."""
        return bool(self.shown) and re.match(r"^[\w-]+: error: ", self.shown[0]) is not None


def blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """Return the fenced code blocks: (language, line number of the first line, lines)."""
    found, lang, start, lines = [], None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        fence = _FENCE.match(line)
        if fence and lang is None:
            lang, start, lines = fence.group(1), number + 1, []
        elif line.strip() == "```" and lang is not None:
            found.append((lang, start, lines))
            lang = None
        elif lang is not None:
            lines.append(line)
    return found


def _complete(command: str) -> bool:
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:  # a quote still open
        return False
    return True


def _shell(start: int, lines: list[str]) -> list[Example]:
    found: list[Example] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(PROMPT):
            if found:
                found[-1].shown.append(lines[i])
            i += 1
            continue
        example = Example(start + i, "shell", lines[i][len(PROMPT) :])
        i += 1
        while not _complete(example.command) and i < len(lines):
            example.command += "\n" + lines[i]
            i += 1
        found.append(example)
    for example in found:
        while example.shown and not example.shown[-1].strip():
            example.shown.pop()
    return found


def examples(text: str) -> list[Example]:
    """Return every `$` command and every python snippet of the README, in order."""
    found: list[Example] = []
    for lang, start, lines in blocks(text):
        if lang == "python":
            found.append(Example(start, "python", "\n".join(lines)))
        elif lang in ("", "console", "sh", "shell"):
            found.extend(_shell(start, lines))
    return found


# -- matching ---------------------------------------------------------------------------


class Mismatch(Exception):
    pass


def text_pattern(shown: str) -> re.Pattern:
    """Return a regex for a line or string as shown: numbers, ids and `...` are free."""
    parts = []
    for token in _TOKENS.split(shown):
        if token == "...":
            parts.append(".*")
        elif re.fullmatch(HEX_ID, token):
            parts.append(HEX_ID)
        elif re.fullmatch(NUMBER, token):
            parts.append(NUMBER)
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts), re.S)


def match_json(shown, actual, ids: dict[str, str], path: tuple = ()) -> None:
    """Raise Mismatch where `actual` differs from `shown`; collect shown -> actual job ids."""
    key = path[-1] if path else None
    where = "/".join(map(str, path)) or "the body"
    if key in VOLATILE:
        if key == "job_id" and isinstance(shown, str) and isinstance(actual, str):
            ids[shown] = actual
        return
    if isinstance(shown, dict):
        if not isinstance(actual, dict) or set(shown) != set(actual):
            got = sorted(actual) if isinstance(actual, dict) else actual
            raise Mismatch(f"{where}: shown keys {sorted(shown)}, got {got}")
        for k in shown:
            match_json(shown[k], actual[k], ids, (*path, k))
    elif isinstance(shown, list):
        if not isinstance(actual, list) or len(shown) != len(actual):
            raise Mismatch(f"{where}: shown {shown!r}, got {actual!r}")
        for i, (s, a) in enumerate(zip(shown, actual, strict=True)):
            match_json(s, a, ids, (*path, i))
    elif isinstance(shown, float):
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            raise Mismatch(f"{where}: shown a number, got {actual!r}")
    elif isinstance(shown, str):
        if not isinstance(actual, str) or not text_pattern(shown).fullmatch(actual):
            raise Mismatch(f"{where}: shown {shown!r}, got {actual!r}")
    elif shown != actual or type(shown) is not type(actual):
        raise Mismatch(f"{where}: shown {shown!r}, got {actual!r}")


def _json_line(line: str) -> tuple[object, str] | None:
    """Split `{...}` or `{...} 202` into the parsed JSON and the status ("" if none)."""
    found = re.fullmatch(r"([\[{].*[\]}])( \d{3})?", line.strip())
    if not found:
        return None
    try:
        return json.loads(found.group(1)), (found.group(2) or "").strip()
    except ValueError:
        return None


def match_line(shown: str, actual: str, ids: dict[str, str]) -> None:
    as_json = _json_line(shown)
    if as_json is not None:
        got = _json_line(actual)
        if got is None:
            raise Mismatch(f"shown JSON, got {actual!r}")
        if as_json[1] != got[1]:
            raise Mismatch(f"shown status {as_json[1]!r}, got {got[1]!r}")
        match_json(as_json[0], got[0], ids)
    elif shown.strip().isdigit():  # a status code alone is compared as it is
        if shown.strip() != actual.strip():
            raise Mismatch(f"shown {shown!r}, got {actual!r}")
    elif not text_pattern(shown.rstrip()).fullmatch(actual.rstrip()):
        raise Mismatch(f"shown {shown!r}, got {actual!r}")


def output_lines(output: str) -> list[str]:
    """Return the lines a terminal would show: what follows the last carriage return (CRLF,
    as in HTTP headers, ends a line)."""
    lines = [ln.removesuffix("\r").rsplit("\r", 1)[-1].rstrip() for ln in output.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def match_output(shown: list[str], actual: list[str], ids: dict[str, str]) -> None:
    """Raise Mismatch unless `actual` fits `shown` (with `...` lines standing for any lines)."""
    if not shown:
        return
    if shown[0].strip() == "...":
        for skip in range(len(actual) + 1):
            try:
                return match_output(shown[1:], actual[skip:], ids)
            except Mismatch as exc:
                last = exc
        raise last
    if not actual:
        raise Mismatch(f"shown {shown[0]!r}, got no more output")
    match_line(shown[0], actual[0], ids)
    if len(shown) == 1 and len(actual) > 1:
        raise Mismatch(f"got more output than shown: {actual[1]!r}")
    match_output(shown[1:], actual[1:], ids)
