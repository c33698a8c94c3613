"""The webapp's JavaScript tests (node:test): the prompt contract against every golden vector, byte for
byte, and the form's Spanish validation against the record schema's rules."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support import REPO


def test_javascript_contract_and_schema_tests_pass():
    node = shutil.which("node")
    if node is None:
        pytest.fail("the webapp's tests need Node.js (apt-get install nodejs)")
    run = subprocess.run([node, "--test", "test/"], cwd=REPO / "webapp", capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = int(re.search(r"^# pass (\d+)$", run.stdout, re.M).group(1))
    assert passed >= 15 and re.search(r"^# fail 0$", run.stdout, re.M)
    golden = len(__import__("json").loads((REPO / "models/contract/golden.json").read_text(encoding="utf-8")))
    assert run.stdout.count("byte-identical") >= golden  # one passing test per golden vector
