"""The client's retry policy and error translation, against faults injected into the emulator (real client, real HTTP).

`sleep` is handed a recorder instead of `time.sleep`: the delays the policy chose are the thing under test, and
the tests stay fast.
"""

from __future__ import annotations

import socket

import pytest
from kk_kaggle_helpers import SLUG, my_submissions, solution_rows, write_predictions

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.client import KaggleClient


def _client(delays: list[float], **kwargs) -> KaggleClient:
    return KaggleClient(sleep=delays.append, **kwargs)


def test_429_waits_as_long_as_retry_after_says_capped_by_max_backoff(kk_env, emulator):
    delays: list[float] = []
    emulator.backend.faults.add("ListDataFiles", status=429, times=1, retry_after=7)
    emulator.backend.faults.add("ListDataFiles", status=429, times=1, retry_after=90)
    files = _client(delays, backoff=0.01, max_backoff=20).competition_files(SLUG)
    assert {f.name for f in files} == {"train.csv", "test.csv", "sample_submission.csv"}
    assert delays == [7.0, 20.0]
    assert emulator.backend.faults.pending() == []


def test_5xx_backs_off_exponentially_then_names_the_status_and_attempts(kk_env, emulator):
    delays: list[float] = []
    emulator.backend.faults.add("GetSubmissionLimits", status=503, times=4)
    with pytest.raises(KKError, match=r"server error \(503\) after 4 attempts on competition 'digit-recognizer'"):
        _client(delays, retries=3, backoff=0.5).submission_limits(SLUG)
    assert delays == [0.5, 1.0, 2.0]
    assert emulator.backend.faults.pending() == []


def test_a_submission_after_a_500_is_looked_up_then_sent_again_once(kk_env, store, emulator):
    # The emulator's 500 comes before it acts: the lookup finds no new submission, so the create is sent again.
    delays: list[float] = []
    sub = write_predictions(kk_env.project / "once.csv", solution_rows(store))
    before = len(my_submissions(emulator))
    emulator.backend.faults.add("CreateSubmission", status=500, times=1)
    ref = _client(delays, backoff=0.01).submit(SLUG, sub, "exactly once")
    assert delays == [0.01]
    assert len(my_submissions(emulator)) == before + 1
    assert [s.ref for s in my_submissions(emulator) if s.description == "exactly once"] == [ref]


def test_attempts_are_counted_truly(kk_env, store, emulator):
    # Was: "after 3 attempts" (retries + 1) although one request had been sent.
    sub = write_predictions(kk_env.project / "counted.csv", solution_rows(store))
    emulator.backend.faults.add("CreateSubmission", status=500, times=20)
    sent_before = len(emulator.rpc_calls("CreateSubmission"))
    try:
        with pytest.raises(KKError, match=r"server error \(500\) after 3 attempts .*; nothing was created"):
            _client([], retries=2, backoff=0.01).submit(SLUG, sub, "counted")
    finally:
        emulator.backend.faults.clear()
    assert len(emulator.rpc_calls("CreateSubmission")) - sent_before == 3
    assert [s for s in my_submissions(emulator) if s.description == "counted"] == []


def test_404_names_the_unknown_thing_and_a_missing_submission_is_none(kk_env, emulator):
    client = _client([], backoff=0.01)
    with pytest.raises(KKError, match=r"unknown dataset 'local/no-such-dataset': not found on the Kaggle emulator"):
        client.dataset_files("local/no-such-dataset")
    with pytest.raises(KKError, match=r"unknown kernel 'local/no-such-kernel'"):
        client.kernel_status("local/no-such-kernel")
    assert client.submission(987654) is None


def test_an_emulator_that_is_not_running_is_named_after_two_short_waits(kk_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    delays: list[float] = []
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(KKError, match=rf"cannot reach the Kaggle emulator at {url}"):
        _client(delays, url=url, backoff=0.01).competition_files(SLUG)
    assert delays == [0.01, 0.02]
