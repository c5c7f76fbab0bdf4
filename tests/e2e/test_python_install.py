"""`pip install client/python` works with no network, into a fresh venv that
sees Debian's NumPy, and the installed package imports from anywhere: pure
Python from pip's isolated build (no NumPy there), with the C mailbox step
(mogen._fastpath) with --no-build-isolation."""

import os
import shutil
import subprocess
import sys

import pytest

from harness import REPO


@pytest.mark.parametrize("isolated", [True, False], ids=["isolated", "no-build-isolation"])
def test_pip_install_works_offline(tmp_path, isolated):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check", "--no-deps", str(REPO / "client" / "python")]
    if not isolated:
        pip.insert(4, "--no-build-isolation")
    # Without a network namespace the test still proves the build needs no
    # downloads: --no-deps plus a backend that requires nothing.
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"]).returncode == 0:
        pip = ["unshare", "-rn"] + pip
    run = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import mogen, mogen.torch, mogen.keras; "
                          "print(mogen.__file__, mogen.accelerated())"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "MOGEN_PURE_PYTHON"})
    assert out.returncode == 0, out.stderr
    assert str(venv) in out.stdout, "mogen was imported from somewhere other than the venv"
    assert out.stdout.split()[-1] == str(not isolated), (out.stdout, run.stderr)
