"""Run `molecule test` for every role and check that each scenario really ran its steps.

Molecule only warns when a playbook is missing, so the exit code alone is not enough:
this fails unless the output shows converge, idempotence and verify succeeding for
every role. Usage (from the repository root): ``python tests/molecule/run_all.py``.

Every scenario's molecule.yml holds only what differs from the shared base configuration,
``.config/molecule/config.yml``. molecule looks for that file by itself only at the root
of the enclosing git checkout, so it is passed explicitly here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BASE_CONFIG = ROOT / ".config" / "molecule" / "config.yml"
STEPS = ("converge", "idempotence", "verify")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x1b\]8;;[^\x1b]*\x1b\\\\")


def main() -> int:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "AGENTMAINT_REPO": str(ROOT),
        "NO_COLOR": "1",
        "ANSIBLE_NOCOLOR": "1",
    }
    roles = sorted(
        p.parent.parent.parent for p in ROOT.glob("roles/*/molecule/default/molecule.yml")
    )
    failed = []
    for role in roles:
        started = time.monotonic()
        done = subprocess.run(
            [str(bin_dir / "molecule"), "--base-config", str(BASE_CONFIG), "test"],
            cwd=role,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
        output = ANSI.sub("", done.stdout + done.stderr)
        missing = [s for s in STEPS if not re.search(rf"{s}: Executed: Successful", output)]
        seconds = time.monotonic() - started
        if done.returncode != 0 or missing:
            failed.append(role.name)
            print(output)
            print(
                f"molecule {role.name}: FAILED (exit {done.returncode}, steps missing: "
                f"{', '.join(missing) or 'none'})"
            )
        else:
            print(f"molecule {role.name}: converge, idempotence and verify passed ({seconds:.0f}s)")
    print(f"{len(roles) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not roles else 0


if __name__ == "__main__":
    raise SystemExit(main())
