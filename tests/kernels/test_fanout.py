"""`kk push-kernel train --parallel N` within Kaggle's session limits, against the emulator (which refuses a
third GPU session with Kaggle's own text): the fan-out never holds more than 2 GPU sessions, pushes the rest as
sessions end, waits out sessions started elsewhere, and follows every kernel it pushed when a later push fails.

The kernels train the scikit-learn kNN recipe (no TensorFlow: quick) on a GPU session that falls back to the CPU."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.training import runs

pytestmark = pytest.mark.slow


def kk(*args: str, code: int = 0):
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == code, result.output
    return result


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def held_intervals(emulator, refs: list[str]) -> list[tuple[float, float]]:
    """When each kernel's GPU session was held (from its push to its end), as the emulator recorded it."""
    out = []
    for ref in refs:
        owner, slug = ref.split("/")
        for v in emulator.backend.kernels.get("local", owner, slug).versions:
            if v.accelerator == "gpu" and v.execution == "RUN":
                out.append((v.created, v.finished))
    return out


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    held = peak = 0
    for _, step in events:  # an end sorts before a start at the same instant: a slot handed over is not two
        held += step
        peak = max(peak, held)
    return peak


KNN_GPU = ("push-kernel", "train", "--recipe", "knn", "--limit", "160", "--gpu", "--allow-cpu-fallback",
           "--poll-interval", "0.3")


def test_parallel_4_on_gpu_runs_at_most_2_sessions_and_gathers_4_folds(project, emulator):
    result = kk(*KNN_GPU, "--folds", "4", "--parallel", "4", "--slug", "fan4", "--wait", "--json")
    out = last_json(result)
    refs = [k["ref"] for k in out["kernels"]]
    assert refs == [f"local/fan4-p{i}" for i in range(4)]
    assert all(k["status"] == "COMPLETE" for k in out["kernels"]), out
    run_dir = Path(out["run_dir"])
    assert runs.done_folds(run_dir) == [0, 1, 2, 3]
    assert json.loads((run_dir / "metrics.json").read_text())["complete"] is True
    assert runs.verify_manifest(run_dir) == []
    intervals = held_intervals(emulator, refs)
    assert len(intervals) == 4 and all(end is not None for _, end in intervals)
    assert most_at_once(intervals) == 2  # two at a time: within Kaggle's limit, and really in parallel
    text = " ".join(result.output.split())
    assert "at most 2 GPU session(s) at once" in text
    assert "Maximum batch GPU session count" not in text  # kk kept within the limit: Kaggle never had to refuse


def test_parallel_beyond_the_limit_without_wait_is_refused_before_any_push(project, emulator):
    result = kk(*KNN_GPU, "--folds", "3", "--parallel", "3", "--slug", "nowait3", code=1)
    text = " ".join(result.output.split())
    assert "Kaggle runs at most 2 GPU session(s) at once per account" in text and "--wait" in text
    with pytest.raises(Exception, match="unknown kernel|not found|404"):
        emulator.backend.kernels.get("local", "local", "nowait3-p0")


def _outside_session(tmp_path: Path, flag: Path) -> str:
    """A GPU kernel pushed by the user outside kk push-kernel: it holds a session until `flag` appears (a file
    in the competition's data folder, which the sandbox mounts read-only at its own path)."""
    from kaggle_kit.kaggle.client import KaggleClient

    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "outside.py").write_text(
        "import os, time\n"
        f"flag = {str(flag)!r}\n"
        "t = time.time()\n"
        "while not os.path.exists(flag) and time.time() - t < 120:\n"
        "    time.sleep(0.1)\n")
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": "local/outside", "title": "outside", "code_file": "outside.py", "language": "python",
        "kernel_type": "script", "enable_gpu": True, "competition_sources": ["digit-recognizer"]}))
    return KaggleClient().kernel_push(folder).ref


def test_a_session_held_elsewhere_is_waited_out(project, emulator, kernel_store, tmp_path):
    """One GPU session is busy outside kk: the second part is refused with Kaggle's text, retried, then runs."""
    flag = kernel_store / "digit-recognizer" / "data" / f".outside-done-{time.monotonic_ns()}"
    outside = _outside_session(tmp_path, flag)
    kernels = emulator.backend.kernels

    def release_when_p0_runs() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                kernels.get("local", "local", "held-p0")
                break
            except Exception:  # noqa: BLE001 - not pushed yet
                time.sleep(0.1)
        time.sleep(2.0)  # p1's push comes right after p0's, and is refused: the outside session still runs
        flag.touch()

    releaser = threading.Thread(target=release_when_p0_runs, daemon=True)
    releaser.start()
    try:
        result = kk(*KNN_GPU, "--folds", "2", "--parallel", "2", "--slug", "held", "--wait", "--json")
    finally:
        flag.touch()
        releaser.join(timeout=130)
    out = last_json(result)
    assert [k["status"] for k in out["kernels"]] == ["COMPLETE", "COMPLETE"], out
    assert runs.done_folds(Path(out["run_dir"])) == [0, 1]
    text = " ".join(result.output.split())
    assert "Maximum batch GPU session count of 2 reached." in text
    held = kernels.get("local", *outside.split("/"))
    assert kernels.wait(held, 1, timeout=60).status.name == "COMPLETE"
    assert most_at_once(held_intervals(emulator, [outside, "local/held-p0", "local/held-p1"])) <= 2


def test_a_failed_push_does_not_abandon_the_kernels_already_pushed(project, emulator):
    """Part 1's push is refused (a machine shape Kaggle does not have): parts 0 and 2 are still followed to their
    end and their folds installed; part 1 is reported NOT_PUSHED and the result fails."""
    from kaggle_kit.accelerators import Accelerator
    from kaggle_kit.kaggle.client import KaggleClient
    from kaggle_kit.kernels import workflow as wf
    from kaggle_kit.kernels.planning import plan_train_kernels

    planning = plan_train_kernels(wf.TrainKernelRequest(
        recipe="knn", limit=160, folds="3", parallel=3, slug="broken", owner="local",
        accelerator=Accelerator.from_flags(gpu=True), allow_cpu_fallback=True))
    rendered = wf.render_plans(planning)
    meta_path = rendered[1].build_dir / "kernel-metadata.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "machine_shape": "Quantum9000"}))
    report = wf.push_and_follow(KaggleClient(), rendered, planning, wf.WaitOptions(wait=True, poll_interval=0.3))
    assert [k.status for k in report.kernels] == ["COMPLETE", wf.NOT_PUSHED, "COMPLETE"]
    assert "Invalid machine shape 'Quantum9000'" in report.kernels[1].failure_message
    assert report.failed and report.kernels[1].to_json()["failure_message"]
    assert runs.done_folds(report.run_dir) == [0, 2]  # the finished folds were brought home all the same
