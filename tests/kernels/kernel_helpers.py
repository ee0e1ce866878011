"""Shared by the kernel tests (a plain module: test folders here are not packages)."""

from __future__ import annotations

KEY = "kk-test-secret-key-5f3a9c"  # the Kaggle key of the test user: it must never leave this machine
