"""What runs inside a kernel: find the inputs, say what hardware it got, train or predict, write the outputs.

This module is embedded in every rendered kernel (see `kaggle_kit.kernels.bundle`) and runs on Kaggle's stock
image, so it imports only the standard library, numpy/TensorFlow and kaggle_kit's own core and training code
(never the command line's typer/rich). The rendered script calls `main(settings, recipe_toml, spec_json)`.

Inputs are found wherever Kaggle mounts them:

- a competition at `<input>/<slug>` or `<input>/competitions/<slug>`;
- a dataset `owner/slug` at `<input>/<slug>` or `<input>/datasets/<owner>/<slug>`;

where `<input>` is `$KK_KAGGLE_INPUT`, else `/kaggle/input` (the emulator and `kk run-kernel` redirect it).
Outputs go to `$KK_KAGGLE_WORKING`, else `/kaggle/working` when it exists, else the current folder.

Two lines of the log are for `kk` to read back (the rest is for people):

    strategy: cpu (default), 1 replica, devices: /CPU:0        (`StrategyInfo.describe()`)
    kk runtime: {"accelerator": "cpu", "devices": [...], "strategy": "...", ...}
    kk result: {"status": "ok", "run_dir": "runs/<competition>/<run-id>", ...}

Example (what a rendered training kernel does; it needs Kaggle's input folders, so a plain code block):

    main({"kind": "train", "competition": "digit-recognizer", "run_id": "20261122-053012-default",
          "folds": [0, 1]}, recipe_toml=open("config.toml").read(), spec_json=None)
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

INPUT_ENV = "KK_KAGGLE_INPUT"
WORKING_ENV = "KK_KAGGLE_WORKING"
KAGGLE_INPUT = "/kaggle/input"
KAGGLE_WORKING = "/kaggle/working"

RUNTIME_PREFIX = "kk runtime: "
RESULT_PREFIX = "kk result: "
MISSING_PREFIX = "kk accelerator missing: "
RESULT_FILE = "kk-result.json"
SUBMISSION_FILE = "submission.csv"
WEIGHTS_MANIFEST = "manifest.json"
WEIGHTS_FORMAT = "kk-weights/1"


class KernelInputError(RuntimeError):
    """An input the kernel needs is not mounted where Kaggle (or the emulator) would put it."""


class AcceleratorMissing(RuntimeError):
    """The kernel asked for a GPU/TPU, found none, and was not allowed to fall back to the CPU."""


def say(text: str) -> None:
    print(text, flush=True)


# -- where things are ------------------------------------------------------------------------------------------------


def input_root() -> Path:
    return Path(os.environ.get(INPUT_ENV) or KAGGLE_INPUT)


def working_dir() -> Path:
    env = os.environ.get(WORKING_ENV)
    if env:
        return Path(env)
    return Path(KAGGLE_WORKING) if Path(KAGGLE_WORKING).is_dir() else Path.cwd()


def _listing(root: Path, depth: int = 2) -> str:
    if not root.is_dir():
        return f"{root} does not exist"
    found = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if len(rel.parts) <= depth and p.is_dir():
            found.append(rel.as_posix() + "/")
    return ", ".join(found[:30]) or "(empty)"


def _first_dir(candidates: list[Path], what: str, root: Path, attach: str) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    raise KernelInputError(
        f"{what} is not mounted: looked in {', '.join(str(c) for c in candidates)}; {root} holds: {_listing(root)}. "
        f"Attach it to the kernel ({attach}).")


def competition_dir(slug: str, root: Path | None = None) -> Path:
    """The competition's data folder: `<input>/<slug>` or `<input>/competitions/<slug>`."""
    root = root or input_root()
    return _first_dir([root / slug, root / "competitions" / slug], f"competition {slug!r}", root,
                      f"competition_sources: [{slug!r}] in kernel-metadata.json")


def kernel_output_dir(ref: str, root: Path | None = None) -> Path:
    """Another kernel `owner/slug`'s output: `<input>/<slug>` or `<input>/notebooks/<owner>/<slug>`."""
    root = root or input_root()
    owner, _, slug = ref.partition("/")
    return _first_dir([root / slug, root / "notebooks" / owner / slug], f"kernel output {ref!r}", root,
                      f"kernel_sources: [{ref!r}] in kernel-metadata.json")


def dataset_dir(ref: str, root: Path | None = None) -> Path:
    """A dataset `owner/slug`'s folder: `<input>/<slug>` or `<input>/datasets/<owner>/<slug>`."""
    root = root or input_root()
    owner, _, slug = ref.partition("/")
    return _first_dir([root / slug, root / "datasets" / owner / slug], f"dataset {ref!r}", root,
                      f"dataset_sources: [{ref!r}] in kernel-metadata.json")


# -- what hardware we got --------------------------------------------------------------------------------------------


def runtime_info(strategy_line: str | None = None) -> dict:
    """Accelerator kind (tpu/gpu/cpu), devices and versions, as TensorFlow sees them."""
    info: dict = {"python": platform.python_version(), "host": platform.node()}
    devices: list[str] = []
    kind = "cpu"
    if not {"tensorflow", "keras", "jax"} & set(sys.modules):  # a scikit-learn baseline: nothing to start just to ask
        info.update(accelerator="cpu", devices=["CPU:0"], tensorflow="not loaded")
        if strategy_line:
            info["strategy"] = strategy_line
        return info
    try:
        if "tensorflow" not in sys.modules:  # Keras on JAX: TensorFlow is only the input pipeline, if anything
            raise ImportError("not loaded")
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        for dev in tf.config.list_physical_devices():
            devices.append(f"{dev.device_type}:{dev.name.rsplit(':', 1)[-1]}")
        types = {d.split(":")[0] for d in devices}
        if "TPU" in types:
            kind = "tpu"
        elif "GPU" in types:
            kind = "gpu"
    except Exception as exc:  # noqa: BLE001 - a kernel without TensorFlow still reports what it can
        info["tensorflow"] = "not loaded" if str(exc) == "not loaded" else f"unavailable ({type(exc).__name__})"
    keras = sys.modules.get("keras")
    if keras is not None:
        info["keras"] = getattr(keras, "__version__", "?")
        info["keras_backend"] = os.environ.get("KERAS_BACKEND", "tensorflow")
    info["tensorflow_dist"] = _dist_of("tensorflow", "tensorflow-cpu", "tensorflow-tpu")
    if "jax" in sys.modules:  # the TPU path: JAX, not TensorFlow, holds the accelerator
        try:
            import jax

            info["jax"] = jax.__version__
            info["jax_devices"] = [f"{d.platform.upper()}:{d.id}" for d in jax.devices()]
            devices = devices or list(info["jax_devices"])
            platforms = {d.platform for d in jax.devices()}
            kind = "tpu" if "tpu" in platforms else "gpu" if "gpu" in platforms or "cuda" in platforms else kind
        except Exception as exc:  # noqa: BLE001 - reported, not fatal here
            info["jax"] = f"unavailable ({type(exc).__name__}: {exc})"
    strategy_mod = sys.modules.get("kaggle_kit.training.strategy")
    if strategy_mod is not None and getattr(strategy_mod, "LAST_TPU_ERROR", None):
        info["tpu_error"] = strategy_mod.LAST_TPU_ERROR
    info["accelerator"] = kind
    info["devices"] = devices
    if strategy_line:
        info["strategy"] = strategy_line
    return info


def _dist_of(*names: str) -> str | None:
    """Which of the distributions `names` is installed (e.g. tensorflow vs tensorflow-cpu), None if none."""
    from importlib import metadata

    for name in names:
        try:
            metadata.version(name)
            return name
        except metadata.PackageNotFoundError:
            continue
    return None


def header(settings: dict) -> None:
    """What this kernel is, where kaggle_kit came from, what it asked for (touches no device: on a TPU VM the
    strategy must be the first thing to initialise TensorFlow's devices)."""
    import kaggle_kit

    where = Path(kaggle_kit.__file__).resolve().parent
    say(f"kaggle-kit {kaggle_kit.__version__} {settings.get('kind')} kernel {settings.get('kernel', '')} for "
        f"{settings.get('competition')} (kaggle_kit from {where})")
    requested = settings.get("requested") or {}
    if requested:
        say(f"requested: {requested.get('accelerator', 'cpu')}"
            + (f" ({requested['machine_shape']})" if requested.get("machine_shape") else "")
            + f", internet {'on' if requested.get('internet') else 'off'}")
    say(f"input: {input_root()}  working: {working_dir()}")


def banner(strategy_line: str) -> dict:
    """Print the strategy line (`strategy.describe()`), the devices, and the runtime info as one JSON line."""
    import kaggle_kit

    say(strategy_line)
    info = runtime_info(strategy_line)
    say(f"devices: {', '.join(info['devices']) or 'none listed'} -> running on {info['accelerator'].upper()}")
    info["kaggle_kit"] = str(Path(kaggle_kit.__file__).resolve().parent)
    say(RUNTIME_PREFIX + json.dumps(info, sort_keys=True))
    return info


def _family(kind: str) -> str:
    return "gpu" if kind in ("gpu", "multi_gpu") else kind


def missing_cause(requested: str, info: dict) -> str:
    """Why a session that asked for `requested` (gpu/tpu) has none, as far as this process can tell."""
    causes = []
    if requested == "gpu":
        if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
            causes.append("CUDA_VISIBLE_DEVICES is empty (this session hides every GPU)")
        if not any(Path("/dev").glob("nvidia[0-9]*")):
            causes.append("no NVIDIA device in /dev: the session has no GPU (Kaggle gives a CPU session when the "
                          "GPU quota is used up or the account is not phone-verified)")
        tf = sys.modules.get("tensorflow")
        try:
            if tf is not None and not tf.test.is_built_with_cuda():
                causes.append(f"this TensorFlow ({tf.__version__}) is built without CUDA")
        except Exception:  # noqa: BLE001 - only a diagnosis
            pass
    else:
        tf_dist = info.get("tensorflow_dist")
        if tf_dist == "tensorflow-cpu":
            causes.append("this image's TensorFlow is tensorflow-cpu, which cannot reach a TPU (Kaggle's TPU image "
                          "since 2025-09; only JAX reaches the TPU)")
        if info.get("tpu_error"):
            causes.append(f"TensorFlow's TPU resolver failed: {info['tpu_error']}")
        import importlib.util

        if "jax" not in info and importlib.util.find_spec("jax") is None:
            causes.append("JAX is not installed, and on Kaggle's TPU image only JAX reaches the TPU")
        if "jax" in info:
            causes.append(f"JAX {info['jax']} lists {', '.join(info.get('jax_devices') or ['no devices'])}")
        elif not os.environ.get("ISTPUVM") and not os.environ.get("TPU_NAME"):
            causes.append("no TPU VM markers (ISTPUVM/TPU_NAME) in the environment: the session has no TPU")
    return "; ".join(causes) or "the devices listed above are all there is"


def check_accelerator(settings: dict, strategy_line: str, info: dict) -> None:
    """Stop at once when the kernel asked for a GPU/TPU and the strategy found none (unless allowed to fall back).

    Training a GPU recipe on a Kaggle CPU for hours, then finding out, is the failure this prevents.
    """
    from kaggle_kit.training.strategy import parse_strategy_line

    requested = (settings.get("requested") or {})
    want = requested.get("accelerator") or "cpu"
    parsed = parse_strategy_line(strategy_line) or {}
    got = _family(parsed.get("kind") or info.get("accelerator") or "cpu")
    if want == "cpu" or got == want:
        return
    cause = missing_cause(want, info)
    devices = ", ".join(info.get("devices") or []) or "none listed"
    record = {"requested": want, "found": got, "devices": info.get("devices"), "cause": cause,
              "fallback": bool(requested.get("allow_cpu_fallback"))}
    say(MISSING_PREFIX + json.dumps(record, sort_keys=True))
    if requested.get("allow_cpu_fallback"):
        say(f"warning: asked for a {want.upper()} but found {got.upper()} ({devices}): {cause}. Running on the "
            f"{got.upper()} (--allow-cpu-fallback).")
        return
    raise AcceleratorMissing(
        f"asked for a {want.upper()}{' (' + requested['machine_shape'] + ')' if requested.get('machine_shape') else ''}"
        f" but found {got.upper()} (devices: {devices}): {cause}. Stopping now instead of running on the "
        f"{got.upper()}; push with --allow-cpu-fallback to run on it anyway.")


def write_result(result: dict) -> None:
    """`kk-result.json` in the working folder, and the same as one log line for `kk` to read."""
    from kaggle_kit.io import atomic_write_json

    atomic_write_json(working_dir() / RESULT_FILE, result)
    say(RESULT_PREFIX + json.dumps(result, sort_keys=True))


# -- the two kernels -------------------------------------------------------------------------------------------------


def _check_spec(expected: dict | None, spec) -> None:
    """The competition mounted here must look like the one the kernel was rendered (or the weights trained) for."""
    if not expected:
        return
    want = {"classes": [str(c) for c in expected.get("classes", [])], "image_shape": list(expected["image_shape"]),
            "id_column": expected["id_column"], "target_column": expected["target_column"]}
    got = {"classes": [str(c) for c in spec.classes], "image_shape": list(spec.image_shape),
           "id_column": spec.id_column, "target_column": spec.target_column}
    diff = [f"{k}: expected {want[k]!r}, found {got[k]!r}" for k in want if want[k] and want[k] != got[k]]
    if diff:
        raise KernelInputError(f"the competition data mounted at {spec.data_dir} does not match: " + "; ".join(diff))


def run_train(settings: dict, recipe_toml: str, spec_json: str | None) -> dict:
    """Train the kernel's folds into `<working>/runs/<competition>/<run-id>/`."""
    import tomllib

    from kaggle_kit.competition import Competition
    from kaggle_kit.config import from_dict
    from kaggle_kit.training.config import RecipeConfig
    from kaggle_kit.training.reporting import PlainReporter
    from kaggle_kit.training.trainer import train_run

    class KernelReporter(PlainReporter):
        """Prints the banner when the trainer has picked its strategy (it is the one to initialise devices)."""

        def on_run_start(self, info: dict) -> None:
            state["strategy"] = info["strategy"]
            check_accelerator(settings, info["strategy"], banner(info["strategy"]))
            super().on_run_start(info)

    state: dict = {}
    slug = settings["competition"]
    header(settings)
    recipe = from_dict(tomllib.loads(recipe_toml), RecipeConfig, source="the kernel's recipe")
    competition = Competition.open(competition_dir(slug), slug=slug)
    _check_spec(json.loads(spec_json) if spec_json else None, competition.spec)
    run_rel = Path("runs") / slug / settings["run_id"]
    run_dir = working_dir() / run_rel
    t0 = time.perf_counter()
    result = train_run(competition, recipe, run_dir, folds_to_train=settings.get("folds"), reporter=KernelReporter())
    return {"status": "ok", "kind": "train", "run_dir": run_rel.as_posix(), "folds": settings.get("folds"),
            "folds_done": result.metrics.get("folds_done"), "cv_accuracy": result.metrics.get("cv_accuracy"),
            "strategy": state.get("strategy", result.strategy), "seconds": round(time.perf_counter() - t0, 1)}


def verify_weights(folder: Path) -> dict:
    """Check every file of a weights dataset against its `manifest.json` (sha256); returns the manifest."""
    from kaggle_kit.io import sha256_file

    path = folder / WEIGHTS_MANIFEST
    if not path.is_file():
        raise KernelInputError(f"{path}: not found; is {folder.name} a weights dataset made by `kk upload-weights`?")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != WEIGHTS_FORMAT:
        raise KernelInputError(f"{path}: format {manifest.get('format')!r}, expected {WEIGHTS_FORMAT!r}")
    problems = []
    for name, entry in manifest["files"].items():
        p = folder / name
        if not p.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(p) != entry["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest (corrupt or replaced)")
    if problems:
        raise KernelInputError(f"weights in {folder} failed verification: " + "; ".join(problems))
    say(f"weights verified: {len(manifest['files'])} files match {WEIGHTS_MANIFEST} (sha256), run "
        f"{manifest.get('run_id')}")
    return manifest


def weights_run_dir(folder: Path, manifest: dict, target: Path) -> Path:
    """Lay a weights dataset's flat files out as the run folder they came from (symlinks, nothing copied)."""
    for name, entry in manifest["files"].items():
        dest = target / entry["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            dest.symlink_to((folder / name).resolve())
        except OSError:
            import shutil

            shutil.copyfile(folder / name, dest)
    return target


def run_inference(settings: dict, spec_json: str | None) -> dict:
    """Predict the test set with the weights dataset's ensemble (+TTA) and write a validated `submission.csv`."""
    from kaggle_kit.competition import Competition
    from kaggle_kit.submission import validate_submission
    from kaggle_kit.training.predict import predict_run
    from kaggle_kit.training.strategy import detect_strategy

    slug = settings["competition"]
    header(settings)
    # Inputs first: a missing or corrupt input fails in seconds, before TensorFlow starts.
    competition = Competition.open(competition_dir(slug), slug=slug)
    folder = dataset_dir(settings["weights"])
    manifest = verify_weights(folder)
    _check_spec(manifest.get("spec"), competition.spec)
    _check_spec(json.loads(spec_json) if spec_json else None, competition.spec)
    strategy_line = detect_strategy().describe()
    check_accelerator(settings, strategy_line, banner(strategy_line))
    t0 = time.perf_counter()
    out = working_dir() / SUBMISSION_FILE
    with tempfile.TemporaryDirectory(prefix="kk-weights-") as tmp:
        run_dir = weights_run_dir(folder, manifest, Path(tmp) / str(manifest.get("run_id") or "run"))
        prediction = predict_run(run_dir, competition, tta=settings.get("tta"), folds=settings.get("ensemble_folds"),
                                 weighted=bool(settings.get("weighted")), out=out, log=say, verified=True,
                                 trained_versions=manifest.get("versions") or {})
    check = validate_submission(out, competition.spec)
    say(f"wrote {out}: {check.rows} rows, valid; folds {prediction.folds}, TTA x{prediction.tta}; "
        f"label counts {check.label_counts}")
    return {"status": "ok", "kind": "inference", "submission": SUBMISSION_FILE, "rows": check.rows,
            "weights": settings["weights"], "run_id": manifest.get("run_id"), "folds": prediction.folds,
            "tta": prediction.tta, "strategy": strategy_line, "seconds": round(time.perf_counter() - t0, 1)}


def main(settings: dict, recipe_toml: str | None = None, spec_json: str | None = None) -> dict:
    """Run the kernel described by `settings` (kind train/inference); exits non-zero with a clear message on error."""
    from kaggle_kit.tf_logging import quiet

    quiet()  # before TensorFlow loads: its C++ start-up noise would bury the kernel's own log lines
    kind = settings.get("kind")
    try:
        if kind == "train":
            result = run_train(settings, recipe_toml or "", spec_json)
        elif kind == "inference":
            result = run_inference(settings, spec_json)
        else:
            raise KernelInputError(f"unknown kernel kind {kind!r}")
    except Exception as exc:
        from kaggle_kit.errors import KKError

        if isinstance(exc, (KKError, KernelInputError, AcceleratorMissing)):
            print(f"kk kernel error: {exc}", file=sys.stderr, flush=True)
            write_result({"status": "error", "kind": kind, "error": str(exc)})
            raise SystemExit(1) from None
        write_result({"status": "error", "kind": kind, "error": f"{type(exc).__name__}: {exc}"})
        raise
    write_result(result)
    return result
