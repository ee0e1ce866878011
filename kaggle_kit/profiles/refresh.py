"""Refresh the image lock files from a checkout of Kaggle/docker-python (one command):

    python -m kaggle_kit.profiles.refresh PATH   # PATH: a work tree, or a bare/mirror git directory

Reads what the repository pins: the GPU/CPU image's Colab base tag and Python (`Dockerfile.tmpl`), the TPU image's
Python and TensorFlow (`tpu/config.txt`) and which TensorFlow distribution it installs (`tpu/requirements.in`),
and rewrites `source`, `read`, `python` and the TPU image's TensorFlow pin in `kaggle-gpu.toml`/`kaggle-tpu.toml`.
Versions the repository leaves to the base image or to the resolver are not touched: it prints them, to be
checked by hand (e.g. `pip freeze` in a Kaggle notebook), and the comments in the lock files say so.
"""

from __future__ import annotations

import datetime as _dt
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kaggle_kit.profiles import HERE


@dataclass
class Upstream:
    commit: str
    date: str
    colab_tag: str
    gpu_python: str
    tpu_python: str
    tpu_tensorflow: str
    tpu_tf_dist: str


def _reader(repo: Path):
    if (repo / "Dockerfile.tmpl").is_file():
        return lambda name: (repo / name).read_text()
    return lambda name: subprocess.run(["git", "--git-dir", str(repo), "show", f"HEAD:{name}"], check=True,
                                       capture_output=True, text=True).stdout


def _git(repo: Path, *args: str) -> str:
    flag = ["-C", str(repo)] if (repo / "Dockerfile.tmpl").is_file() else ["--git-dir", str(repo)]
    try:
        return subprocess.run(["git", *flag, *args], check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _need(pattern: str, text: str, what: str) -> str:
    m = re.search(pattern, text, re.M)
    if not m:
        raise SystemExit(f"refresh: could not find {what} (pattern {pattern!r}); has the repository changed shape?")
    return m.group(1)


def read_upstream(repo: Path) -> Upstream:
    read = _reader(repo)
    dockerfile, config, reqs = read("Dockerfile.tmpl"), read("tpu/config.txt"), read("tpu/requirements.in")
    tf_dist = _need(r"^(tensorflow(?:-cpu|-tpu)?)==\$\{TENSORFLOW_VERSION\}", reqs, "the TPU image's TensorFlow")
    return Upstream(
        commit=_git(repo, "log", "-1", "--format=%H")[:12], date=_git(repo, "log", "-1", "--format=%cs"),
        colab_tag=_need(r"colab-images/public/runtime:(\S+)", dockerfile, "the GPU image's Colab base"),
        gpu_python=_need(r"PACKAGE_PATH=\S*python(\d+\.\d+)", dockerfile, "the GPU image's Python"),
        tpu_python=_need(r"^BASE_IMAGE=python:(\d+\.\d+)", config, "the TPU image's Python"),
        tpu_tensorflow=_need(r"^TENSORFLOW_VERSION=(\S+)", config, "the TPU image's TensorFlow"),
        tpu_tf_dist=tf_dist,
    )


def set_value(text: str, key: str, value: str, section: str | None = None) -> str:
    """`key = "value"` replaced in `section` (None: the top level), comments and layout kept."""
    lines = text.splitlines(keepends=True)
    current = None
    for i, line in enumerate(lines):
        head = re.match(r"^\[([^\]]+)\]\s*$", line)
        if head:
            current = head.group(1)
            continue
        if current == section and re.match(rf"^{re.escape(key)}\s*=", line):
            lines[i] = f'{key} = "{value}"\n'
            return "".join(lines)
    raise KeyError(f"{key} not found in [{section or 'top level'}]")


def refresh(repo: Path, folder: Path = HERE, today: str | None = None) -> list[str]:
    """Rewrite the lock files in `folder` from the checkout `repo`; returns what to check by hand."""
    up = read_upstream(repo)
    today = today or _dt.date.today().isoformat()
    gpu_path, tpu_path = folder / "kaggle-gpu.toml", folder / "kaggle-tpu.toml"
    gpu = gpu_path.read_text()
    gpu = set_value(gpu, "source", f"Kaggle/docker-python {up.commit} ({up.date}): Dockerfile.tmpl FROM colab-images "
                                   f"runtime:{up.colab_tag}; PACKAGE_PATH python{up.gpu_python}")
    gpu = set_value(set_value(gpu, "read", today), "python", up.gpu_python)
    tpu = tpu_path.read_text()
    tpu = set_value(tpu, "source", f"Kaggle/docker-python {up.commit} ({up.date}): tpu/config.txt (BASE_IMAGE=python:"
                                   f"{up.tpu_python}, TENSORFLOW_VERSION={up.tpu_tensorflow}), tpu/requirements.in "
                                   f"({up.tpu_tf_dist}==${{TENSORFLOW_VERSION}}, jax[tpu], keras>3)")
    tpu = set_value(set_value(tpu, "read", today), "python", up.tpu_python)
    todo = []
    try:
        tpu = set_value(tpu, up.tpu_tf_dist, up.tpu_tensorflow, section="packages")
    except KeyError:
        todo.append(f"the TPU image now installs {up.tpu_tf_dist}=={up.tpu_tensorflow}: edit [packages] and the "
                    "TPU simulation (kernels/README.md) by hand")
    gpu_path.write_text(gpu)
    tpu_path.write_text(tpu)
    todo.append(f"GPU image: tensorflow/keras come from the Colab base {up.colab_tag}; check them in a Kaggle "
                "notebook (pip freeze | grep -E 'tensorflow|keras|jax') and edit kaggle-gpu.toml")
    todo.append("TPU image: jax, keras, numpy, pandas, scikit-learn, albumentations are unpinned upstream (newest "
                "at build time); edit kaggle-tpu.toml's [packages]/[overlay] when they move")
    return todo


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for line in refresh(Path(args[0])):
        print("check by hand: " + line)
    print(f"updated {HERE / 'kaggle-gpu.toml'} and {HERE / 'kaggle-tpu.toml'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
