"""The fault tools themselves: the proxy's kinds do what they say, the emulator's random faults are seeded."""

from __future__ import annotations

import pytest
import requests

from kaggle_kit.emulator.core import Faults
from kaggle_kit.emulator.fault_proxy import FaultProxy

HEALTH = "http://localhost/_emulator/health"


def _get(proxy: FaultProxy):
    return requests.get(HEALTH, proxies={"http": proxy.url}, timeout=10)


@pytest.mark.parametrize("kind, reaches_server", [("drop_before", False), ("drop_after", True)])
def test_dropped_requests_reach_the_server_or_not_as_named(emulator, proxy, kind, reaches_server):
    emulator.app.calls.clear()
    proxy.script("/_emulator/health", kind)
    with pytest.raises(requests.exceptions.ConnectionError):
        _get(proxy)
    assert len(emulator.app.calls) == (1 if reaches_server else 0)
    assert _get(proxy).json()["ok"] is True  # scripted once: the next one passes
    assert proxy.faulted == [(kind, f"GET {HEALTH} HTTP/1.1")]


def test_a_truncated_answer_is_cut_inside_its_body(emulator, proxy):
    proxy.script("/_emulator/health", "truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _get(proxy).json()


def test_random_proxy_faults_are_seeded_and_near_their_rate(emulator, proxy):
    proxy.rate = 0.25
    proxy.seed(5)
    outcomes = []
    for _ in range(200):
        try:
            _get(proxy).json()
            outcomes.append(True)
        except requests.exceptions.RequestException:
            outcomes.append(False)
    proxy.rate = 0.0
    assert 0.17 < outcomes.count(False) / 200 < 0.33
    assert sum(proxy.stats.values()) == 200


def test_emulator_random_faults_are_seeded_and_bounded():
    def draws(seed: int) -> list[bool]:
        faults = Faults()
        faults.add("*", status=503, times=30, rate=0.3, seed=seed)
        return [faults.take("x") is not None for _ in range(400)]

    first = draws(1)
    assert first == draws(1) != draws(2)
    assert sum(first) == 30  # `times` caps the failures
    assert 8 <= first[:60].count(True) <= 28  # ~18 expected at rate 0.3


def test_emulator_random_faults_through_the_control_route(emulator):
    url = f"{emulator.url}/_emulator/faults"
    auth = emulator.admin_headers  # the control API is the emulator's admin's, not its users'
    assert requests.post(url, json={"method": "ListDataFiles", "rate": 0.5}, timeout=10).status_code in (401, 403)
    assert requests.post(url, json={"method": "ListDataFiles", "rate": 0.5, "times": 3, "seed": 1},
                         headers=auth, timeout=10).status_code == 201
    assert requests.post(url, json={"method": "ListDataFiles", "rate": 2}, headers=auth, timeout=10).status_code == 400
    assert requests.get(url, headers=auth, timeout=10).json()["faults"][0]["rate"] == 0.5
    requests.delete(url, headers=auth, timeout=10)
