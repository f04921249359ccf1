# SPDX-License-Identifier: GPL-2.0-or-later
"""Loads leakwatch_agent into a Python program that does not import it itself.

`leakwatch run -- python app.py` (or anyone) puts this directory first on PYTHONPATH and
sets LEAKWATCH_AGENT=1; Python imports `sitecustomize` at start-up (the site module), so
this file runs before the program. Without LEAKWATCH_AGENT=1 it does nothing but pass
control on. A sitecustomize that this one shadows (Debian ships one in
/etc/python3.X) is found further along sys.path and run as well, so the host's own
start-up code keeps working. Errors never reach the program.
"""

import os
import sys


def _chain():
    """Runs the next sitecustomize on sys.path after this file's directory."""
    try:
        import importlib.machinery
        import importlib.util

        here = os.path.dirname(os.path.abspath(__file__))
        rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
        if spec is None or spec.origin is None or os.path.abspath(spec.origin) == os.path.abspath(__file__):
            return
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception:
        pass


if os.environ.get("LEAKWATCH_AGENT") == "1":
    try:
        import leakwatch_agent  # noqa: F401  (starts reporting on import)
    except Exception:
        pass
_chain()
