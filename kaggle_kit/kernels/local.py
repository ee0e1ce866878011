"""`kk run-kernel`: run a rendered kernel folder here, with the inputs its metadata names mounted from this project.

Competitions come from `<datasets root>/<slug>`, datasets from `<datasets root>/<owner>/<slug>` (where
`kk download` and `kk upload-weights` put them), kernel outputs from `kernels/build/<slug>/output/`; the
session's accelerator and internet switch are the metadata's, read as the emulator reads them.

Example (needs a rendered kernel and its inputs, so a plain code block):

    result = run_rendered_kernel(Path("kernels/build/digit-recognizer-kk-inference"), timeout=600)
    result.status, result.output_dir, result.outputs   # ('COMPLETE', .../output, ['kk-result.json', ...])
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from kaggle_kit.accelerators import Accelerator
from kaggle_kit.errors import KKError
from kaggle_kit.io import atomic_write_text
from kaggle_kit.kernels.metadata import as_bool, read_metadata
from kaggle_kit.kernels.mounts import InputLayout, Mount, input_mounts
from kaggle_kit.profiles import KAGGLE, LOCAL, ImageProfile, ensure_overlay, resolve_image

LOG_FILE = "kernel.log"  # the session's log, Kaggle's JSON format, beside the outputs


def metadata_mounts(folder: Path, meta: dict, datasets_root: Path, kernels_root: Path,
                    layout: InputLayout | str = InputLayout.NESTED) -> list[Mount]:
    """The mounts of every source in `meta`; a `KKError` naming each one that is not here."""
    comps = {slug: datasets_root / slug for slug in meta.get("competition_sources") or []}
    datasets = {ref: datasets_root / ref for ref in meta.get("dataset_sources") or []}
    kernels = {ref: kernels_root / ref.split("/")[1] / "output" for ref in meta.get("kernel_sources") or []}
    missing = [f"{what} {name} ({path})" for what, group in (("competition", comps), ("dataset", datasets),
                                                              ("kernel output", kernels))
               for name, path in group.items() if not path.is_dir()]
    if missing:
        raise KKError(f"{folder}: inputs not found here: {', '.join(missing)}",
                      hint="kk download COMPETITION fetches a competition; kk upload-weights stages a weights "
                           "dataset under datasets/<owner>/<slug>/.")
    return input_mounts(comps, datasets, kernels, layout=layout)


def run_rendered_kernel(folder: Path, datasets_root: Path | None = None, out: Path | None = None,
                        layout: InputLayout | str = InputLayout.NESTED, timeout: float | None = None,
                        weak_isolation: bool = False, on_line: Callable[[dict], None] | None = None,
                        image: str | ImageProfile = KAGGLE, progress: Callable[[str], None] | None = None):
    """Run `folder`'s kernel as Kaggle would; its outputs (and `kernel.log`) go to `out`, default
    `folder/output/` (emptied first: kk's own folder shows this run's outputs only). Returns the `SandboxResult`.

    `image`: an image profile (`kaggle_kit.profiles`: `kaggle`, the default, picks `kaggle-tpu` or `kaggle-gpu`
    by the kernel's accelerator; `local` is this environment as it is); see `image_settings`."""
    from kaggle_kit.kernels.sandbox import run_kernel
    from kaggle_kit.kernels.weights import datasets_root as default_datasets_root
    from kaggle_kit.kernels.workflow import build_root

    folder = Path(folder)
    meta = read_metadata(folder)
    mounts = metadata_mounts(folder, meta, datasets_root or default_datasets_root(), build_root(), layout)
    accelerator = Accelerator.from_switches(as_bool(meta.get("enable_gpu"), False),
                                            as_bool(meta.get("enable_tpu"), False), meta.get("machine_shape"))
    python_path, env, notes = image_settings(image, accelerator.kind, progress)
    dest = out or folder / "output"
    if out is None and dest.is_dir():
        shutil.rmtree(dest)
    result = run_kernel(folder / meta["code_file"], dest, mounts=mounts,
                        internet=as_bool(meta.get("enable_internet"), True), timeout=timeout,
                        accelerator=accelerator.kind, machine_shape=meta.get("machine_shape"),
                        weak_isolation=weak_isolation, on_line=on_line, notes=notes,
                        python_path=python_path, env=env)
    atomic_write_text(dest / LOG_FILE, json.dumps(result.log))
    return result


def image_settings(image: str | ImageProfile, accelerator: str, progress: Callable[[str], None] | None = None
                   ) -> tuple[list[Path] | None, dict[str, str], list[str]]:
    """`(python_path, env, notes)` of a kernel asking for `accelerator` run under `image` (`kk run-kernel` and the
    emulator): the profile's overlay packages put before this environment's (built once into the user cache,
    `progress` reports it), its devices simulated when the kernel asked for the profile's accelerator, and the
    lines that say so in the kernel's log."""
    profile = image if isinstance(image, ImageProfile) else resolve_image(image, accelerator)
    overlay = ensure_overlay(profile, progress=progress)
    notes = []
    env = {"KK_IMAGE_PROFILE": profile.name} if profile.name != LOCAL else {}
    if profile.name != LOCAL:
        notes.append(f"image profile {profile.name}: {', '.join(f'{k} {v}' for k, v in profile.overlay.items())} "
                     f"over this environment ({profile.source.split(':')[0]})")
        if accelerator == profile.accelerator:
            env.update(profile.kernel_env())
            notes.append(f"simulating {profile.devices} {profile.accelerator.upper()} device(s) on this machine's "
                         "CPU (a simulation: it shows placement and replica counts, not speed or memory)")
        elif accelerator != "cpu":
            notes.append(f"the kernel asks for a {accelerator.upper()}, the {profile.name} profile simulates "
                         f"a {profile.accelerator.upper()}: no devices are simulated")
    return ([overlay] if overlay else None), env, notes
