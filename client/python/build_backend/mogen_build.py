"""A PEP 517 build backend for the mogen client that needs nothing but the
standard library, so that `pip install client/python` works offline: pip's
isolated build environment has no setuptools unless it can download it.

A wheel is the mogen/ folder plus the .dist-info metadata, zipped. When
NumPy imports in the build environment and a C compiler is at hand, it also
holds mogen._fastpath (the mailbox step in C, mogen/_fastpath.c), compiled
for this interpreter, and is tagged for it; otherwise it is pure Python,
which works the same, a little slower per batch. pip's default isolated
build has no NumPy: `pip install --no-build-isolation client/python` builds
the C step against the NumPy you have.
"""

import base64
import hashlib
import os
import shlex
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
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


def _wheel_file(tag, purelib):
    return (f"Wheel-Version: 1.0\nGenerator: mogen_build {VERSION}\n"
            f"Root-Is-Purelib: {'true' if purelib else 'false'}\nTag: {tag}\n")


def _package_files(sources=False):
    """(path on disk, path in the archive) for every module of the package,
    and with sources also the C source (for the sdist)."""
    root = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(root)):
        if name.endswith(".py") or (sources and name.endswith(".c")):
            yield os.path.join(root, name), f"{NAME}/{name}"


def _protocol_dir():
    """protocol/ of the repository, or the copy in an sdist."""
    for path in (os.path.join(HERE, "protocol"), os.path.join(HERE, "..", "..", "protocol")):
        if os.path.exists(os.path.join(path, "mailbox_layout.h")):
            return path
    return None


def _compile_fastpath(out_dir):
    """Compiles mogen/_fastpath.c into out_dir; returns its path, or None
    (saying why on stderr) when NumPy, the headers or a compiler is missing."""
    if sys.implementation.name != "cpython":
        return _skip(f"it is written for CPython, not {sys.implementation.name}")
    try:
        import numpy
    except ImportError:
        return _skip("NumPy does not import in the build environment "
                     "(use pip install --no-build-isolation)")
    protocol = _protocol_dir()
    include = sysconfig.get_paths()["include"]
    if protocol is None or not os.path.exists(os.path.join(include, "Python.h")):
        return _skip(f"no Python.h in {include} (Debian: apt-get install python3-dev)"
                     if protocol else "protocol/mailbox_layout.h is missing")
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    out = os.path.join(out_dir, "_fastpath" + sysconfig.get_config_var("EXT_SUFFIX"))
    cmd = cc + ["-std=c11", "-O2", "-fPIC", "-shared", "-I" + protocol, "-I" + include,
                "-I" + numpy.get_include(), "-o", out,
                os.path.join(HERE, NAME, "_fastpath.c")]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        return _skip(f"no C compiler ({e})")
    if run.returncode != 0:
        return _skip("the compiler failed:\n" + run.stderr[-2000:])
    return out


def _skip(why):
    print(f"mogen: building without the C mailbox step: {why}", file=sys.stderr)
    return None


def _platform_tag():
    """The wheel tag of this interpreter, e.g. cp311-cp311-linux_x86_64."""
    version = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{version}-{version}{sys.abiflags}-{platform}"


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = [(arc, open(path, "rb").read()) for path, arc in _package_files()]
    with tempfile.TemporaryDirectory() as tmp:
        fastpath = _compile_fastpath(tmp)
        if fastpath is not None:
            entries.append((f"{NAME}/{os.path.basename(fastpath)}",
                            open(fastpath, "rb").read()))
    tag = "py3-none-any" if fastpath is None else _platform_tag()
    filename = f"{NAME}-{VERSION}-{tag}.whl"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as whl:
        entries.append((f"{DIST_INFO}/METADATA", METADATA.encode()))
        entries.append((f"{DIST_INFO}/WHEEL", _wheel_file(tag, fastpath is None).encode()))
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
        for path, arc in _package_files(sources=True):
            tar.add(path, arcname=f"{base}/{arc}")
        protocol = _protocol_dir()
        if protocol is not None:
            tar.add(os.path.join(protocol, "mailbox_layout.h"),
                    arcname=f"{base}/protocol/mailbox_layout.h")
    return filename
