"""Keep TensorFlow's C++ start-up logging off the user's terminal (`kk --verbose` or `KK_VERBOSE=1` bring it back).

On a CPU machine, importing TensorFlow 2.21 prints lines like these, and the first op adds a `cuInit` error:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796232925.558586    6819 cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
    I0000 00:00:1796232925.617062    6819 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use ...
    To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate ...
    E0000 00:00:1796232934.875329    6819 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ... (303)

`TF_CPP_MIN_LOG_LEVEL=3` (read by TensorFlow's C++ side when it starts) silences what is logged after absl's
logging is initialised, the cuInit error included, but not the lines above it: those are written to file
descriptor 2 by the shared libraries' static initialisers, before anything is configured (measured; neither
`ABSL_MIN_LOG_LEVEL` nor `GRPC_VERBOSITY` changes them). So `quiet()` also points fd 2 at a temporary file while
`tensorflow` is first imported, then writes back every captured line that is not known noise (a Python warning,
a real error). TensorFlow's Python-level warnings are left alone.

Pure standard library, so a kernel can call it too, before it imports TensorFlow:

    from kaggle_kit.tf_logging import quiet
    quiet()          # before `import tensorflow` / `import keras`
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

VERBOSE_ENV = "KK_VERBOSE"
# Set only when the user has not chosen a level; child processes (kernels run locally, benchmarks) inherit it.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
# Modules whose first import writes to fd 2 before Python can configure anything. keras imports tensorflow.
NOISY_IMPORTS = ("tensorflow",)

NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    # absl/glog lines below error severity: I0000 00:00:1796232925.558586    6819 cudart_stub.cc:31] ...
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] "),
    # the second line of cpu_feature_guard's notice
    re.compile(r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.$"),
)

_state: dict = {"env": {}, "finder": None}


def is_noise(line: str) -> bool:
    """Whether a line TensorFlow writes while it is imported is known start-up noise."""
    return any(p.search(line.rstrip("\r\n")) for p in NOISE)


def verbose_requested() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def quiet() -> bool:
    """Silence TensorFlow's C++ logging for this process and its children, unless KK_VERBOSE is set.

    Call it before TensorFlow is imported. Returns whether it silenced anything.
    """
    if verbose_requested():
        return False
    for name, value in QUIET_ENV.items():
        if name not in os.environ:
            os.environ[name] = value
            _state["env"][name] = value
    if _state["finder"] is None and not any(m in sys.modules for m in NOISY_IMPORTS):
        finder = _QuietImport(NOISY_IMPORTS)
        _state["finder"] = finder
        sys.meta_path.insert(0, finder)
    return True


def loud() -> None:
    """Undo `quiet()` and ask child processes for TensorFlow's logs too (`kk --verbose`)."""
    for name, value in _state["env"].items():
        if os.environ.get(name) == value:
            del os.environ[name]
    _state["env"] = {}
    if _state["finder"] is not None:
        if _state["finder"] in sys.meta_path:
            sys.meta_path.remove(_state["finder"])
        _state["finder"] = None
    os.environ[VERBOSE_ENV] = "1"


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it wraps the real loader of a noisy module so its first import runs with fd 2 captured."""

    def __init__(self, names: tuple[str, ...]):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names:
            return None
        self.names.discard(fullname)  # one import each; find_spec below must not come back here
        if not self.names and self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        real_exec = loader.exec_module

        def exec_module(module):
            try:
                with _captured_stderr():
                    real_exec(module)
            finally:
                del loader.exec_module  # back to the class's method: the patch was for this import only

        loader.exec_module = exec_module
        return spec


class _captured_stderr:
    """Point fd 2 at a temporary file; on exit restore it and write back the lines that are not noise."""

    def __enter__(self):
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            self.saved = None  # no usable fd 2 (closed, or replaced by a non-file): nothing to capture
            return self
        self.file = tempfile.TemporaryFile()
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            return False
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.file.seek(0)
        kept = [line for line in self.file.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not is_noise(line)]
        self.file.close()
        if kept:
            os.write(2, "".join(kept).encode())
        return False
