#!/usr/bin/env python3
"""Write tiny, real, pure-Python wheels into a wheelhouse (the test hosts have no PyPI).

    python3 make_wheels.py WHEELHOUSE

A wheel is a zip file with the module and a ``<name>-<version>.dist-info`` directory
holding METADATA, WHEEL and RECORD (each file's sha256 and size; RECORD lists itself
without them), which is all pip needs to install, freeze and uninstall it.
"""

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

WHEELS = (
    ("agentmaint_demo_lib", "1.0"),
    ("agentmaint_demo_lib", "2.0"),
    ("agentmaint_demo_extra", "1.0"),
)
WHEEL_FILE = (
    "Wheel-Version: 1.0\nGenerator: agentmaint-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
)


def record_line(path: str, data: bytes) -> str:
    """One RECORD line: path, urlsafe-base64 sha256 without padding, size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def write_wheel(wheelhouse: Path, name: str, version: str) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` whose module has ``__version__``."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": f'"""agentmaint_python_deps test package."""\n__version__ = "{version}"\n',
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test wheel\n"
        ),
        f"{dist_info}/WHEEL": WHEEL_FILE,
    }
    contents = {path: text.encode() for path, text in files.items()}
    lines = [*(record_line(path, data) for path, data in contents.items()), f"{dist_info}/RECORD,,"]
    contents[f"{dist_info}/RECORD"] = ("\n".join(lines) + "\n").encode()
    target = wheelhouse / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for path, data in contents.items():
            wheel.writestr(path, data)
    return target


def main(argv: list[str]) -> int:
    """Write every wheel of WHEELS into the directory argv[0]."""
    wheelhouse = Path(argv[0])
    wheelhouse.mkdir(parents=True, exist_ok=True)
    for name, version in WHEELS:
        print(write_wheel(wheelhouse, name, version))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
