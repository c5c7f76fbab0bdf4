"""A PEP 517 build backend for the mogen client that needs nothing but the
standard library, so that `pip install client/python` works offline: pip's
isolated build environment has no setuptools unless it can download it.

The package is pure Python: a wheel is the mogen/ folder plus the
.dist-info metadata, zipped.
"""

import base64
import hashlib
import os
import tarfile
import zipfile

NAME = "mogen"
VERSION = "0.1.0"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST_INFO = f"{NAME}-{VERSION}.dist-info"

METADATA = f"""Metadata-Version: 2.1
Name: {NAME}
Version: {VERSION}
Summary: Client for mogend: multi-output image training batches from shared memory
Requires-Python: >=3.9
Requires-Dist: numpy
Provides-Extra: keras
Requires-Dist: keras>=3; extra == "keras"
Provides-Extra: torch
Requires-Dist: torch; extra == "torch"
"""

WHEEL = f"""Wheel-Version: 1.0
Generator: mogen_build {VERSION}
Root-Is-Purelib: true
Tag: py3-none-any
"""


def _package_files():
    """(path on disk, path in the wheel) for every module of the package."""
    root = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(root)):
        if name.endswith(".py"):
            yield os.path.join(root, name), f"{NAME}/{name}"


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = f"{NAME}-{VERSION}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as whl:
        entries = [(arc, open(path, "rb").read()) for path, arc in _package_files()]
        entries.append((f"{DIST_INFO}/METADATA", METADATA.encode()))
        entries.append((f"{DIST_INFO}/WHEEL", WHEEL.encode()))
        for arcname, data in entries:
            whl.writestr(arcname, data)
            records.append(_record_line(arcname, data))
        records.append(f"{DIST_INFO}/RECORD,,")
        whl.writestr(f"{DIST_INFO}/RECORD", "\n".join(records) + "\n")
    return filename


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{VERSION}"
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tar:
        for name in ["pyproject.toml", "README.md", "build_backend/mogen_build.py"]:
            tar.add(os.path.join(HERE, name), arcname=f"{base}/{name}")
        for path, arc in _package_files():
            tar.add(path, arcname=f"{base}/{arc}")
    return filename
