"""Image profiles: what Kaggle's images hold, and a local stand-in to run kernels against.

A profile is a lock file in this folder (`kaggle-gpu.toml`, `kaggle-tpu.toml`): the image's Python and library
versions with where they were read and when (`[packages]`), what `kk run-kernel --image NAME` installs over this
environment to imitate it (`[overlay]`: pure-Python or self-contained wheels, `--no-deps`), and how many devices
it simulates (`[simulate]`). `local` is this environment as it is.

The overlay is installed once with pip into the user cache, `~/.cache/kaggle-kit/profiles/<name>-<lockhash>/`
(`$KK_PROFILE_CACHE` moves it), and put first on the kernel's `PYTHONPATH`; a changed lock file is a new folder.
It is deliberately light: a full TensorFlow per profile would cost gigabytes and minutes, while what breaks
kernels on Kaggle is above all the Keras version (saved models) and, on the TPU image, a TensorFlow that sees no
TPU with JAX beside it. What the stand-in cannot show is listed in kernels/README.md.

Example:
    >>> p = load_profile("kaggle-tpu")
    >>> p.accelerator, p.devices, p.overlay["keras"] == p.packages["keras"]
    ('tpu', 8, True)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kaggle_kit.errors import KKError

HERE = Path(__file__).resolve().parent
LOCAL = "local"
KAGGLE = "kaggle"  # the default: the Kaggle image matching the kernel's accelerator
CACHE_ENV = "KK_PROFILE_CACHE"
DONE_MARK = ".kk-profile.json"


class ProfileError(KKError):
    """A profile is unknown, or its overlay cannot be installed."""


@dataclass(frozen=True)
class ImageProfile:
    """One image: its versions (`packages`), the overlay that imitates it here, and its simulated devices."""

    name: str
    description: str = ""
    python: str = ""
    accelerator: str = "cpu"
    packages: dict[str, str] = field(default_factory=dict)
    overlay: dict[str, str] = field(default_factory=dict)
    devices: int = 1
    env: dict[str, str] = field(default_factory=dict)
    source: str = ""
    read: str = ""

    @property
    def lock_hash(self) -> str:
        """What the cached overlay depends on: its pins and this interpreter (wheels are per Python)."""
        key = json.dumps({"overlay": self.overlay, "python": sys.version_info[:2]}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    def requirements(self) -> list[str]:
        return [f"{dist}=={version}" for dist, version in sorted(self.overlay.items())]

    def kernel_env(self) -> dict[str, str]:
        """Environment of a kernel run under this profile: its simulated devices, labelled as simulated."""
        env = dict(self.env)
        if self.name != LOCAL:
            env["KK_IMAGE_PROFILE"] = self.name
        if self.accelerator == "gpu" and self.devices > 1:
            env.setdefault("KK_SIMULATED_GPUS", str(self.devices))
        return env


def profile_names() -> list[str]:
    return [LOCAL, *sorted(p.stem for p in HERE.glob("*.toml"))]


def image_names() -> list[str]:
    """What `--image` accepts: `kaggle` (the default), every profile, and `local`."""
    return [KAGGLE, *profile_names()]


def resolve_image(name: str, accelerator: str) -> ImageProfile:
    """The profile a kernel asking for `accelerator` (cpu, gpu, tpu) runs under: `kaggle` is the image Kaggle
    would give it (`kaggle-tpu` for a TPU session, `kaggle-gpu` for a GPU or CPU one); any other name as given.

    Example:
        >>> resolve_image("kaggle", "tpu").name, resolve_image("kaggle", "cpu").name, resolve_image("local", "tpu").name
        ('kaggle-tpu', 'kaggle-gpu', 'local')
    """
    if name == KAGGLE:
        name = "kaggle-tpu" if accelerator == "tpu" else "kaggle-gpu"
    return load_profile(name)


def load_profile(name: str) -> ImageProfile:
    """The profile `name` (a lock file in this folder, or `local`); a `ProfileError` listing the known ones."""
    if name == LOCAL:
        return ImageProfile(LOCAL, "this environment as it is")
    path = HERE / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"--image {name!r}: no such image profile (known: {', '.join(profile_names())})")
    data = tomllib.loads(path.read_text())
    sim = data.get("simulate", {})
    return ImageProfile(name=data.get("name", name), description=data.get("description", ""),
                        python=str(data.get("python", "")), accelerator=data.get("accelerator", "cpu"),
                        packages={k: str(v) for k, v in data.get("packages", {}).items()},
                        overlay={k: str(v) for k, v in data.get("overlay", {}).items()},
                        devices=int(sim.get("devices", 1)), env={k: str(v) for k, v in sim.get("env", {}).items()},
                        source=data.get("source", ""), read=str(data.get("read", "")))


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kaggle-kit" / "profiles"


def profile_dir(profile: ImageProfile, root: Path | None = None) -> Path:
    return (root or cache_root()) / f"{profile.name}-{profile.lock_hash}"


def ensure_overlay(profile: ImageProfile, root: Path | None = None,
                   progress: Callable[[str], None] | None = None) -> Path | None:
    """The folder holding the profile's overlay packages, installed with pip the first time (None: no overlay).

    Concurrent builders each install into their own temporary folder and the first to finish wins, so a
    half-installed overlay is never used.
    """
    if not profile.overlay:
        return None
    say = progress or (lambda s: None)
    target = profile_dir(profile, root)
    if (target / DONE_MARK).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    reqs = profile.requirements()
    say(f"building image profile {profile.name} (once, into {target}): pip install {' '.join(reqs)}")
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:",
           "--target", str(tmp), "--progress-bar", "off", *reqs]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith(("Collecting", "Downloading", "Installing", "Successfully")):
            say("  " + line.strip())
    if proc.wait() != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = "\n  ".join(x for x in lines[-8:] if x.strip())
        raise ProfileError(
            f"could not build image profile {profile.name}: pip install {' '.join(reqs)} failed:\n  {tail}",
            hint="kk builds image profiles once with pip from the package index; check that it can be reached "
                 "(network, PIP_INDEX_URL), or run with --image local.")
    (tmp / DONE_MARK).write_text(json.dumps({"profile": profile.name, "overlay": profile.overlay}, sort_keys=True))
    try:
        os.replace(tmp, target)
    except OSError:  # another builder finished first; theirs is as good
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"image profile {profile.name} ready")
    return target
