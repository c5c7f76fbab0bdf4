"""conf/mogend.service is a unit systemd accepts, and it agrees with the
example config about where the socket and the classes files live."""

import json
import re
import shutil
import subprocess

import pytest

from harness import REPO, binary


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed: cannot verify the unit")
def test_unit_verifies(tmp_path):
    unit = (REPO / "conf" / "mogend.service").read_text()
    # verify checks that ExecStart exists: point it at the built binary.
    unit = unit.replace("/usr/local/bin/mogend", str(binary("mogend")))
    (tmp_path / "mogend.service").write_text(unit)
    run = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "mogend.service")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr


def test_unit_and_example_config_agree():
    unit = (REPO / "conf" / "mogend.service").read_text()
    assert re.search(r"^Type=notify$", unit, re.M), "mogend sends READY=1: Type=notify"
    runtime = re.search(r"^RuntimeDirectory=(\S+)$", unit, re.M)[1]
    state = re.search(r"^StateDirectory=(\S+)$", unit, re.M)[1]
    # The example config allows // comments; strip them to read it here.
    text = re.sub(r"^\s*//.*$", "", (REPO / "conf" / "mogend.json").read_text(), flags=re.M)
    cfg = json.loads(text)
    assert cfg["socket"].startswith(f"/run/{runtime}/")
    assert cfg["classes_dir"] == f"/var/lib/{state}"
