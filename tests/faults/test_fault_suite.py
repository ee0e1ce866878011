"""Download, submit, dataset upload (what `kk upload-weights` does) and kernel push, many times at a 25 % fault rate.

About one request in four fails: the proxy drops ~15 % of them (before the server sees them, or after it acted)
or cuts their answer short, and the emulator answers ~12 % of the rest with 500, 503 or 429 (an upload 503 keeps
part of the bytes, so the next PUT must resume). Each operation must succeed in at least 19 runs of 20, never
make a duplicate (submission, kernel version, dataset version) and never leave a half-written file.

3 runs each in the normal suite; `KK_FAULTS_FULL=1` runs 20 each (`make test-faults`). `KK_FAULTS_REPORT=FILE`
appends each operation's figures to FILE as JSON lines (RELIABILITY.md quotes them). Each test's seed is derived
from its name plus `KK_FAULTS_SEED` (default 2: with it, every kind of create loses its answer after the server
acted at least twice in 20 runs), so a run is reproducible; the full run fails if no create lost its answer,
since it would then prove nothing about duplicates.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path

import pytest
from fault_helpers import (
    SLUG,
    dataset_versions_with,
    invoke,
    kernel_folder,
    staged_weights,
    submissions_with,
    versions_with,
    write_submission,
)

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.client import KaggleClient

FULL = os.environ.get("KK_FAULTS_FULL") == "1"
RUNS = 20 if FULL else 3
NEEDED = 19 if FULL else 3
PROXY_RATE = 0.15
STATUS_RATE = 0.04  # each of 500, 503, 429
MAX_SECONDS = 240  # per operation: a loop that stops making progress fails instead of hanging


@pytest.fixture
def faulty(request, emulator, proxy):
    """Turn on random faults on both sides, seeded per test; yield a function that returns the figures so far."""
    seed = zlib.crc32(request.node.name.encode()) + int(os.environ.get("KK_FAULTS_SEED", "2"))
    proxy.rate = PROXY_RATE
    proxy.seed(seed)
    faults = emulator.backend.faults
    faults.add("upload", status=503, times=100_000, keep_bytes=700, rate=0.08, seed=seed)
    for status in (500, 503, 429):
        faults.add("*", status=status, times=100_000, rate=STATUS_RATE, retry_after=0 if status == 429 else None)
    emulator.app.calls.clear()

    def figures(create: str | None = None) -> dict:
        requests = sum(proxy.stats.values())
        injected = sum(1 for c in emulator.app.calls if c.status in (429, 500, 503))
        lost = sum(n for kind, n in proxy.stats.items() if kind != "pass")
        out = {"requests": requests, "proxy_faults": lost, "emulator_faults": injected,
               "fault_rate": round((lost + injected) / max(1, requests), 3)}
        if create:  # creates whose answer was lost after the server acted: the case that made duplicates
            out["lost_create_answers"] = sum(1 for kind, line in proxy.faulted
                                             if kind in ("drop_after", "truncate") and create in line)
        return out

    yield figures
    proxy.rate = 0.0
    faults.clear()


def _error_line(output: str) -> str:
    lines = [ln for ln in output.strip().splitlines() if ln.startswith("error")]
    return (lines or output.strip().splitlines() or ["(no output)"])[-1]


def _report(name: str, ok: int, failures: list[str], figures: dict, seconds: float) -> None:
    line = {"operation": name, "runs": RUNS, "succeeded": ok, **figures, "seconds": round(seconds, 1),
            "failures": failures[:5]}
    print(json.dumps(line))
    if os.environ.get("KK_FAULTS_REPORT"):
        with open(os.environ["KK_FAULTS_REPORT"], "a") as f:
            f.write(json.dumps(line) + "\n")


def _loop(name: str, run, figures, create: str | None = None) -> None:
    started = time.monotonic()
    ok, failures = 0, []
    for i in range(RUNS):
        assert time.monotonic() - started < MAX_SECONDS, f"{name}: {i} runs took over {MAX_SECONDS} s"
        error = run(i)
        if error is None:
            ok += 1
        else:
            failures.append(f"run {i}: {error}")
    measured = figures(create)
    _report(name, ok, failures, measured, time.monotonic() - started)
    assert ok >= NEEDED, f"{name}: {ok}/{RUNS} succeeded: {failures}"
    if FULL and create:  # otherwise the run proved nothing about duplicates; change KK_FAULTS_SEED
        assert measured["lost_create_answers"] >= 1, f"{name}: no {create} lost its answer in this run"


def test_download_under_faults(world, store, faulty):
    originals = {p.name: p.read_bytes() for p in (store / SLUG / "data").iterdir() if p.is_file()}

    def run(i: int) -> str | None:
        folder = world / f"download-{i}"
        result = invoke("download", SLUG, "--data-dir", str(folder))
        present = {p.name: p for p in folder.iterdir()} if folder.exists() else {}
        assert not [n for n in present if n.startswith(".kk-partial")], f"staging left behind: {sorted(present)}"
        for name, path in present.items():  # whatever is there is whole, success or not
            if name in originals:
                assert path.read_bytes() == originals[name], f"half-written {path}"
        if result.exit_code != 0:
            return _error_line(result.output)
        assert set(originals) <= set(present)
        return None

    _loop("download", run, faulty)


def test_submit_under_faults(world, store, emulator, faulty):
    sub = write_submission(store, world / "submission.csv")

    def run(i: int) -> str | None:
        result = invoke("submit", SLUG, "--file", str(sub), "-m", f"fault suite {i}",
                        "--data-dir", str(store / SLUG / "data"))
        made = submissions_with(emulator, f"fault suite {i}")
        assert len(made) <= 1, f"run {i} made {len(made)} submissions"
        if result.exit_code != 0:
            return _error_line(result.output)
        assert len(made) == 1 and f"submission {made[0].ref}" in result.output
        return None

    _loop("submit", run, faulty, create="CreateSubmission")


def test_dataset_upload_under_faults(world, emulator, faulty):
    from kaggle_kit.kernels.weights import upload_weights

    ref = "local/kk-fault-suite-weights"

    def run(i: int) -> str | None:
        files = {"fold0-model.keras": bytes([i % 256]) * (3000 + i), "manifest.json": json.dumps({"i": i}).encode()}
        staged = staged_weights(world, ref.split("/")[1], files, run_id=f"run-{i}")
        try:
            result = upload_weights(KaggleClient(), staged, f"fault suite {i}", poll=0.01, timeout=60)
        except KKError as exc:
            assert len(dataset_versions_with(emulator, ref, f"fault suite {i}")) <= 1
            return exc.message
        made = dataset_versions_with(emulator, ref, f"fault suite {i}")
        assert made == ([] if result.created else [result.version]), f"run {i}: versions {made}"
        ds = emulator.backend.datasets.datasets[ref]
        assert {f.name: f.size for f in ds.current.files} == {n: len(d) for n, d in files.items()}
        return None

    _loop("dataset upload", run, faulty, create="CreateDataset")


def test_kernel_push_under_faults(world, emulator, faulty):
    ref = "local/kk-fault-suite-kernel"

    def run(i: int) -> str | None:
        body = f"print('fault suite run {i}')\n"
        folder = kernel_folder(world, ref.split("/")[1], body)
        try:
            pushed = KaggleClient().kernel_push(folder)
        except KKError as exc:
            made = versions_with(emulator, ref, body)
            assert made == [] or "may have" in exc.message, f"run {i}: reported failed but made {made}"
            return exc.message
        assert versions_with(emulator, ref, body) == [pushed.version]
        return None

    _loop("kernel push", run, faulty, create="SaveKernel")
    kernel = emulator.backend.kernels.kernels[ref]
    sources = [emulator.backend.kernels.source(kernel, v) for v in kernel.versions]
    assert len(sources) == len(set(sources)), "a push made two versions"


def test_the_proxy_talks_to_localhost_only():
    from kaggle_kit.emulator.fault_proxy import FaultProxy

    with pytest.raises(ValueError, match="local emulator"):
        FaultProxy("http://example.org:80")
    assert Path(__file__).parent.name == "faults"
