"""README.md's lists follow their sources: settings, limits, hyperparameters, flags, paths.

Each generated table sits between `<!-- name: ... -->` and `<!-- end name -->` markers; when one
is out of date the failure message holds the table to paste.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.settings import LIMITS, Settings, markdown_table
from service.training.cli import build_parser
from service.training.spec import RECIPES, Hyperparameters

from .examples import Mismatch, examples, match_output, output_lines

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = {p.relative_to(ROOT).as_posix(): p.read_text() for p in (ROOT / "docs").glob("*.md")}


def _between(name: str) -> str:
    start = re.search(rf"<!-- {name}:.*-->\n", README)
    assert start, f"README.md has no <!-- {name}: ... --> marker"
    return README[start.end() : README.index(f"<!-- end {name} -->")].strip()


def _value(value) -> str:
    """Write a default as a flag takes it: 64,64, none, 0.003."""
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


def hyperparameter_table() -> str:
    lines = ["| field and flag | default | built-in datasets | meaning |", "|---|---|---|---|"]
    recipe = next(iter(RECIPES.values()))  # the built-in datasets share one recipe
    assert all(r == recipe for r in RECIPES.values()), "recipes differ: give each a column"
    for name, info in Hyperparameters.model_fields.items():
        builtin = f"`{_value(recipe[name])}`" if name in recipe else "same"
        flag = "--" + name.replace("_", "-")
        lines.append(
            f"| `{name}` (`{flag}`) | `{_value(info.default)}` | {builtin} | {info.description} |"
        )
    return "\n".join(lines)


def test_settings_table_is_generated_from_settings():
    assert _between("settings") == markdown_table(), "paste:\n" + markdown_table()


def test_hyperparameter_table_is_generated_from_the_spec():
    table = hyperparameter_table()
    assert _between("hyperparameters") == table, "paste:\n" + table


def test_documented_settings_exist():
    known = {f"NNS_{n.upper()}" for n in Settings.model_fields}
    for path, text in {"README.md": README, **DOCS}.items():
        unknown = set(re.findall(r"\bNNS_[A-Z_]*[A-Z]\b", text)) - known
        assert not unknown, f"{path} names settings that do not exist: {sorted(unknown)}"


def test_limits_table_lists_every_limit_with_its_default():
    rows = re.findall(r"^\| `NNS_(\w+)` \| `([^`]*)` \|", _between("limits"), re.M)
    assert {name.lower() for name, _ in rows} == LIMITS
    for name, default in rows:
        assert default == str(Settings.model_fields[name.lower()].default), name


def test_two_commands_are_make_targets_and_ci_runs_the_test_one():
    makefile = (ROOT / "Makefile").read_text()
    assert "make serve" in README and "make test" in README
    assert re.search(r"^serve:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_every_nns_train_flag_shown_exists():
    flags = {o for a in build_parser()._actions for o in a.option_strings}
    training = README.split("## Training", 1)[1].split("\n## ", 1)[0]
    shown = set(re.findall(r"`(--[a-z][a-z-]*)", training))
    for example in examples(README):
        if example.command.startswith("nns-train"):
            shown |= set(re.findall(r"(?<!\S)(--[a-z][a-z-]*)", example.command))
    assert shown, "no nns-train flag found in the README"
    assert shown <= flags, f"not flags of nns-train: {sorted(shown - flags)}"


PATH = re.compile(  # a path of this repository, as prose and commands name them
    r"(?<![\w/.-])((?:service|model_store|tests)/[\w./{}]*[\w/]"
    r"|(?:scripts|deploy|docs)/[\w./{}-]*[\w/]"
    r"|docker-compose[\w.]*\.yml|\.env\.example|\.ci/run|Dockerfile|Makefile)(?![\w-])"
)


@pytest.mark.parametrize("doc", ["README.md", *sorted(DOCS)])
def test_every_path_named_exists(doc):
    text = README if doc == "README.md" else DOCS[doc]
    missing = {p for p in PATH.findall(text) if "{" not in p and not (ROOT / p).exists()}
    assert not missing, f"{doc} names paths that do not exist: {missing}"


# -- the rule examples are held to can fail ----------------------------------------------


def _fails(shown: list[str], output: str) -> bool:
    try:
        match_output(shown, output_lines(output), {})
    except Mismatch:
        return True
    return False


def test_example_matching_accepts_other_measurements_and_ids():
    shown = ['{"job_id":"' + "a" * 32 + '","label":1,"probability":0.99,"reason":"loss 0.2"}']
    ids: dict[str, str] = {}
    match_output(shown, [shown[0].replace("a" * 32, "b" * 32).replace("0.2", "0.31")], ids)
    assert ids == {"a" * 32: "b" * 32}
    shown = ["data: 275 rows", "...", "store .../models"]
    assert not _fails(shown, "data: 12 rows\nx\r[##] y\nstore /t/models")


@pytest.mark.parametrize(
    "output",
    [
        '{"label":0,"probability":0.99} 202',  # another label
        '{"label":1} 202',  # a key missing
        '{"label":1,"probability":"0.99"} 202',  # a string for a number
        '{"label":1,"probability":0.99} 200',  # another status
        '{"label":1,"probability":0.99} 202\nmore',  # more output than shown
    ],
)
def test_example_matching_refuses_what_a_user_would_notice(output):
    shown = ['{"label":1,"probability":0.5} 202']
    assert not _fails(shown, '{"label":1,"probability":0.99} 202')
    assert _fails(shown, output)


def test_example_matching_refuses_other_words():
    assert _fails(["model penguins version 1 (current)"], "model penguins version 1 (not promoted)")
    assert _fails(["HTTP/1.1 202 ACCEPTED"], "HTTP/1.1 200 OK")


def test_examples_are_read_with_their_continuations_and_outputs():
    text = "\n".join([
        "```", "$ curl -s -X POST x -d '{\"a\": 1,", "   \"b\": 2}'", '{"ok":true}',
        "$ nns-train --data f.csv \\", "    --target t", "nns-train: error: no", "", "```",
        "```", "docker compose up", "```", "```python", "print(1)", "```",
    ])  # fmt: skip
    found = examples(text)
    assert [(e.line, e.kind) for e in found] == [(2, "shell"), (5, "shell"), (14, "python")]
    assert found[0].command.endswith('"b": 2}\'') and found[0].shown == ['{"ok":true}']
    assert found[1].command.endswith("--target t") and found[1].fails
    assert found[2].command == "print(1)" and not found[0].fails
