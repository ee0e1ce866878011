"""Notebook kernels: a pushed .ipynb runs cell by cell, as Kaggle runs it, not as one concatenated script.

`runner_script(text)` gives a self-contained Python script (the sandbox runs scripts) that executes the
notebook's code cells in order in one namespace, like one kernel: each cell's stdout/stderr is recorded as
stream outputs (and still reaches the session log live), a last bare expression becomes an `execute_result`,
the first exception stops the run with an `error` output (later cells do not run, as on Kaggle), `!cmd` lines
run in a shell and `%magic` lines are skipped. The executed notebook is written as `__notebook__.ipynb` into the
working folder, so it comes back among the version's outputs.

Example:
    >>> nb = json.dumps({"cells": [{"cell_type": "code", "source": "x = 20 + 1"},
    ...                            {"cell_type": "code", "source": "print(x * 2)\\nx"}], "nbformat": 4})
    >>> "exec(" in runner_script(nb)
    True
    >>> check_notebook("{}")
    Traceback (most recent call last):
    ...
    kaggle_kit.emulator.core.EmulatorError: kernelType notebook: the notebook has no 'cells' list
"""

from __future__ import annotations

import json

from kaggle_kit.emulator.core import bad_request

OUTPUT_NOTEBOOK = "__notebook__.ipynb"


def check_notebook(text: str) -> dict:
    """The pushed notebook as JSON, or 400 when it is not a notebook."""
    try:
        nb = json.loads(text)
    except ValueError as exc:
        raise bad_request(f"kernelType notebook: text is not notebook JSON ({exc})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise bad_request("kernelType notebook: the notebook has no 'cells' list")
    return nb


_RUNNER = r'''
import ast
import json
import subprocess
import sys
import traceback

NOTEBOOK = json.loads(__NOTEBOOK_JSON__)
OUTPUT = __OUTPUT__


class _Tee:
    """The real stream (the live session log) plus this cell's outputs."""

    def __init__(self, real, name, outputs):
        self.real, self.name, self.outputs = real, name, outputs

    def write(self, text):
        self.real.write(text)
        if text:
            last = self.outputs[-1] if self.outputs else None
            if last is not None and last.get("output_type") == "stream" and last["name"] == self.name:
                last["text"] += text
            else:
                self.outputs.append({"output_type": "stream", "name": self.name, "text": text})
        return len(text)

    def flush(self):
        self.real.flush()

    def isatty(self):
        return False

    def __getattr__(self, name):
        return getattr(self.real, name)


def _shell(command):
    done = subprocess.run(command, shell=True, capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)


def _translate(source):
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("!"):
            lines.append(f"{indent}__kk_shell__({stripped[1:]!r})")
        elif stripped.startswith("%"):
            lines.append(f"{indent}pass  # magic skipped: {stripped}")
        else:
            lines.append(line)
    return "\n".join(lines)


def _save():
    for cell in NOTEBOOK.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = out["text"].splitlines(keepends=True)
    with open(OUTPUT, "w", encoding="utf-8") as f:
        json.dump(NOTEBOOK, f, indent=1)


namespace = {"__name__": "__main__", "__kk_shell__": _shell}
count = 0
failed = False
for cell in NOTEBOOK.get("cells", []):
    if cell.get("cell_type") != "code":
        continue
    count += 1
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    outputs = []
    cell["outputs"], cell["execution_count"] = outputs, count
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(real_out, "stdout", outputs), _Tee(real_err, "stderr", outputs)
    name = f"<cell {count}>"
    try:
        tree = ast.parse(_translate(source), filename=name)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, name, "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), name, "eval"), namespace)
            if value is not None:
                outputs.append({"output_type": "execute_result", "execution_count": count, "metadata": {},
                                "data": {"text/plain": repr(value)}})
    except SystemExit as exc:
        if exc.code not in (None, 0):
            failed = True
            outputs.append({"output_type": "error", "ename": "SystemExit", "evalue": str(exc.code),
                            "traceback": []})
        sys.stdout, sys.stderr = real_out, real_err
        break
    except BaseException as exc:
        failed = True
        text = traceback.format_exc()
        outputs.append({"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc),
                        "traceback": text.splitlines()})
        real_err.write(text)
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    if failed:
        break
_save()
sys.exit(1 if failed else 0)
'''


def runner_script(text: str) -> str:
    """A Python script that runs notebook `text` cell by cell and writes the executed notebook (see module doc)."""
    check_notebook(text)
    # The notebook goes in last: its own text may contain the other placeholder.
    return _RUNNER.replace("__OUTPUT__", repr(OUTPUT_NOTEBOOK)).replace("__NOTEBOOK_JSON__", repr(text)).lstrip()
