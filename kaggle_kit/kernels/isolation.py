"""A kernel's view of the machine: only its inputs (read-only), its own folders, and the Python it runs on.

On Kaggle a kernel sees `/kaggle/input` (read-only) and `/kaggle/working`, nothing of other users. Locally the
emulator's kernels run on the same machine as the emulator's store (hidden `solution.csv` files), its state
(other users' private datasets and submissions, the admin token) and the user's home (`~/.kaggle`), so
`run_kernel` wraps each kernel in bubblewrap (`bwrap`, Debian package `bubblewrap`; `make setup` installs it
where it can):

- the whole filesystem read-only, then empty `tmpfs` over every place that holds someone's data (`/tmp`,
  `/var/tmp`, `/root`, `/home`, `/run`, `/mnt`, `/media`, `/srv`, the user's home, and whatever the caller names:
  the emulator's store and state);
- back on top, read-only: the Python installation and environment the kernel runs on and each input's source
  folder (the kernel's input tree links into them); read-write: only the kernel's own temporary tree;
- its own PID, IPC and UTS namespaces with a fresh `/proc` (no other process's command line or environment),
  and its own network namespace when internet is off.

Example (the argument list `run_kernel` puts in front of the kernel's command):

    prefix = bwrap_prefix(kernel_root, read_only=[Path("datasets/digit-recognizer")], internet=False,
                          hide=[Path("/srv/emulator-state")])
    subprocess.run(prefix + [sys.executable, "kernel.py"])
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

# Places that hold users' data on a typical machine; a kernel gets an empty folder instead.
HIDDEN_ROOTS = ("/tmp", "/var/tmp", "/root", "/home", "/run", "/mnt", "/media", "/srv")
INSTALL_HINT = "Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; `make setup` does it as root)."


@lru_cache(maxsize=1)
def bwrap_available() -> bool:
    """Whether bubblewrap is installed and can create the namespaces it needs here."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False
    try:
        probe = subprocess.run([exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid",
                                "--unshare-net", "--die-with-parent", "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def python_paths() -> list[Path]:
    """What the kernel's interpreter needs to see: the environment and the installation it was made from."""
    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent}
    return sorted(paths)


def bwrap_prefix(kernel_root: Path, read_only: list[Path], internet: bool, hide: list[Path] = (),
                 sealed: list[Path] = ()) -> list[str]:
    """The `bwrap ...` arguments that confine a kernel to `kernel_root` (read-write) and `read_only` (plus
    Python); `hide` adds folders to cover (they may lie outside the usual places, e.g. an emulator's state);
    `sealed` are folders inside `kernel_root` made read-only again (the kernel's input tree)."""
    home = Path(os.path.expanduser("~"))
    covered = [Path(p) for p in HIDDEN_ROOTS] + [home, *[Path(p) for p in hide]]
    args = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent"]
    if not internet:
        args.append("--unshare-net")
    for path in covered:
        real = path.resolve()
        if real.is_dir() and real != Path("/"):
            args += ["--tmpfs", str(real)]
    for path in [*python_paths(), *(Path(p).resolve() for p in read_only)]:
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    root = kernel_root.resolve()
    args += ["--bind", str(root), str(root)]
    for path in sealed:
        real = Path(path).resolve()
        args += ["--ro-bind", str(real), str(real)]
    return args
