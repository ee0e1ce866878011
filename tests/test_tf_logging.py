"""TensorFlow's C++ start-up noise stays off the terminal; `kk --verbose` and KK_VERBOSE=1 bring it back.

The end-to-end tests run the real `kk train` on a pseudo-terminal (what a user sees), on tiny data.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kaggle_kit.tf_logging import is_noise

KK = Path(sys.executable).parent / "kk"
ROOT = Path(__file__).resolve().parent.parent

# What TensorFlow's C++ side prints (absl/glog format, any severity), and its two unformatted lines.
TF_CPP_LINE = (
    re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] "),
    re.compile(r"All log messages before absl::InitializeLog\(\) is called"),
    re.compile(r"failed call to cuInit"),
    re.compile(r"^To enable the following instructions: "),
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
INFO = "I0000 00:00:1796232925.558586    6819 cudart_stub.cc:31] Could not find cuda drivers on your machine."


def test_known_noise_is_recognised_and_errors_are_not():
    assert is_noise(BANNER + "\n")
    assert is_noise(INFO)
    assert is_noise("W1202 17:35:18.123456    42 port.cc:153] oneDNN custom operations are on.")
    assert is_noise("To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
                    "with the appropriate compiler flags.")
    assert not is_noise("E0000 00:00:1796232934.875329    6819 some_kernel.cc:52] a real error")
    assert not is_noise("UserWarning: something the user should read")
    assert not is_noise("Traceback (most recent call last):")


def _python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter that can import the fake noisy package written into tmp_path."""
    pkg = tmp_path / "noisy"
    pkg.mkdir(exist_ok=True)
    # Writes to fd 2 directly, as TensorFlow's shared libraries do, plus one line that is not noise.
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""
        import os
        os.write(2, b{(BANNER + chr(10) + INFO + chr(10) + "a real problem" + chr(10))!r})
    """))
    environ = {k: v for k, v in os.environ.items() if k not in ("KK_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    environ["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT), environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env={**environ, **env},
                          capture_output=True, text=True, timeout=60)


QUIET_THEN_IMPORT = """
    import os, sys
    from kaggle_kit import tf_logging
    tf_logging.NOISY_IMPORTS = ("noisy",)
    tf_logging.quiet()
    import noisy
    print("after import", file=sys.stderr)
    print(os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
"""


def test_quiet_drops_the_noise_an_import_writes_to_fd2_and_keeps_the_rest(tmp_path):
    done = _python(QUIET_THEN_IMPORT, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "a real problem" in done.stderr
    assert "after import" in done.stderr  # fd 2 is back where it was
    assert "absl::InitializeLog" not in done.stderr and "cudart_stub" not in done.stderr
    assert done.stdout.strip() == "3"  # inherited by child processes


def test_kk_verbose_env_keeps_everything(tmp_path):
    done = _python(QUIET_THEN_IMPORT, tmp_path, KK_VERBOSE="1")
    assert done.returncode == 0, done.stderr
    assert BANNER in done.stderr and "cudart_stub" in done.stderr and "a real problem" in done.stderr
    assert done.stdout.strip() == "None"


def test_a_level_the_user_chose_is_kept(tmp_path):
    done = _python(QUIET_THEN_IMPORT, tmp_path, TF_CPP_MIN_LOG_LEVEL="1")
    assert done.stdout.strip() == "1"


def test_loud_undoes_quiet(tmp_path):
    done = _python(QUIET_THEN_IMPORT.replace("tf_logging.quiet()", "tf_logging.quiet(); tf_logging.loud()"),
                   tmp_path)
    assert BANNER in done.stderr
    assert done.stdout.strip() == "None"


def run_in_pty(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """Run a command with stdin/stdout/stderr on a pseudo-terminal; return its exit code and the lines it showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            proc.kill()
            pytest.fail(f"{args} ran past {timeout} s")
    finally:
        os.close(master)
    proc.wait(timeout=30)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return proc.returncode, text


def tf_lines(text: str) -> list[str]:
    lines = [line.strip() for line in re.split(r"[\r\n]+", text)]
    return [line for line in lines if any(p.search(line) for p in TF_CPP_LINE)]


@pytest.fixture
def train_cmd(digit_store, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("KK_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    env.update(TERM="xterm", COLUMNS="200", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    args = ["train", "digit-recognizer", "--data-dir", str(digit_store / "digit-recognizer" / "data"),
            "--epochs", "1", "--limit", "200", "--folds", "2", "--fold", "0", "--batch-size", "32"]
    return args, tmp_path, env


@pytest.mark.slow
def test_kk_train_shows_no_tensorflow_cpp_logging(train_cmd):
    args, cwd, env = train_cmd
    rc, text = run_in_pty([str(KK), *args], cwd, env)
    assert rc == 0, text
    assert "CV accuracy" in text  # it did train (TensorFlow was imported and ran ops)
    assert tf_lines(text) == []


@pytest.mark.slow
def test_kk_verbose_brings_tensorflow_logging_back(train_cmd):
    args, cwd, env = train_cmd
    rc, text = run_in_pty([str(KK), "--verbose", *args], cwd, env)
    assert rc == 0, text
    # This machine has no GPU: TensorFlow says so, and the first op fails cuInit (both seen on the CI machine).
    assert tf_lines(text), text
