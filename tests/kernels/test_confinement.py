"""A kernel's outputs cannot make kk write outside the folder the user chose (issue: a run.json whose
`competition` was `../..` installed the run anywhere)."""

from __future__ import annotations

import json
import subprocess
import time

from kernel_helpers import KEY
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.emulator.testing import client_env, kaggle_cli

# A training kernel's outputs as a hostile kernel would shape them: a run folder whose run.json names a
# competition that climbs out of runs/, and a manifest that vouches for nothing.
HOSTILE = """
import json, os
run = os.path.join("runs", "digit-recognizer", "20260101-000000-default")
os.makedirs(run, exist_ok=True)
json.dump({"competition": "../../escaped", "config_hash": "x", "run_id": "20260101-000000-default"},
          open(os.path.join(run, "run.json"), "w"))
json.dump({"files": {}}, open(os.path.join(run, "manifest.json"), "w"))
json.dump({"status": "ok", "kind": "train", "run_dir": RUN_DIR}, open("kk-result.json", "w"))
"""


def _push(emulator, tmp_path, slug: str, run_dir: str) -> str:
    folder = tmp_path / slug
    folder.mkdir()
    (folder / f"{slug}.py").write_text(f"RUN_DIR = {run_dir!r}\n" + HOSTILE)
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": f"local/{slug}", "title": slug, "code_file": f"{slug}.py", "language": "python",
        "kernel_type": "script", "enable_internet": False, "competition_sources": ["digit-recognizer"]}))
    r = subprocess.run([kaggle_cli(), "kernels", "push", "-p", str(folder)], capture_output=True, text=True,
                       timeout=120, env=client_env(emulator, tmp_path / "home", user="local", key=KEY))
    assert "successfully pushed" in r.stdout, r
    return f"local/{slug}"


def _output(ref: str, dest):
    deadline = time.monotonic() + 90
    while True:
        result = CliRunner().invoke(app, ["kernel-output", ref, "--path", str(dest)])
        if "COMPLETE" in result.output or result.exit_code != 0 or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_run_json_competition_cannot_escape_runs(project, emulator, tmp_path):
    ref = _push(emulator, tmp_path, "hostile-competition", "runs/digit-recognizer/20260101-000000-default")
    result = _output(ref, tmp_path / "fetched")
    assert result.exit_code != 0, result.output
    assert "would be written outside" in result.output
    assert not (project / "escaped").exists() and not (project.parent / "escaped").exists()


def test_result_run_dir_cannot_point_outside_the_outputs(project, emulator, tmp_path):
    ref = _push(emulator, tmp_path, "hostile-run-dir", "../../../../outside")
    result = _output(ref, tmp_path / "fetched2")
    assert result.exit_code != 0, result.output
    assert "would be written outside" in result.output


BAD_SUBMISSION = """
open("submission.csv", "w").write("ImageId,Label\\n1,3\\n1,4\\n")  # a duplicate id, and far too few rows
"""


def test_submit_kernel_refuses_an_invalid_submission_csv_before_it_costs_a_submission(project, emulator, tmp_path):
    folder = tmp_path / "bad-sub"
    folder.mkdir()
    (folder / "bad-sub.py").write_text(BAD_SUBMISSION)
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": "local/bad-sub", "title": "bad-sub", "code_file": "bad-sub.py", "language": "python",
        "kernel_type": "script", "enable_internet": False, "competition_sources": ["digit-recognizer"]}))
    env = client_env(emulator, tmp_path / "home", user="local", key=KEY)
    r = subprocess.run([kaggle_cli(), "kernels", "push", "-p", str(folder)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert "successfully pushed" in r.stdout, r
    deadline = time.monotonic() + 90
    while "COMPLETE" not in subprocess.run([kaggle_cli(), "kernels", "status", "local/bad-sub"], capture_output=True,
                                           text=True, timeout=60, env=env).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    before = len(emulator.backend.competitions.submissions)
    result = CliRunner().invoke(app, ["submit", "--kernel", "local/bad-sub", "--kernel-version", "1"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "submission.csv" in result.output and "duplicate ImageId" in result.output, result.output
    assert len(emulator.backend.competitions.submissions) == before
