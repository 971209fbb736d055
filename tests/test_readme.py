"""README.md stays true: every setting is listed, and the two commands are the Makefile's."""

from __future__ import annotations

import re

from service.settings import Settings
from tests.support.harness import ROOT

README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented():
    for name in Settings.model_fields:
        assert f"`NNS_{name.upper()}`" in README, f"NNS_{name.upper()} missing from README"


def test_documented_settings_exist():
    documented = set(re.findall(r"`NNS_([A-Z_]+)`", README))
    assert documented <= {n.upper() for n in Settings.model_fields}


def test_two_commands_are_make_targets_and_ci_runs_the_test_one():
    makefile = (ROOT / "Makefile").read_text()
    assert "make serve" in README and "make test" in README
    assert re.search(r"^serve:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)
