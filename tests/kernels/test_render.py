"""Rendering: metadata for every accelerator/internet choice, the embedded code, determinism, no key inside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kernel_helpers import KEY
from typer.testing import CliRunner

from kaggle_kit.accelerators import Accelerator
from kaggle_kit.cli import app
from kaggle_kit.kernels.bundle import FORBIDDEN, build_bundle, kernel_modules, read_bundle
from kaggle_kit.kernels.metadata import kernel_metadata, validate_metadata
from kaggle_kit.kernels.sandbox import kernel_site_dir

EXPLICIT_KEYS = {"id", "title", "code_file", "language", "kernel_type", "is_private", "enable_gpu", "enable_tpu",
                 "enable_internet", "machine_shape", "competition_sources", "dataset_sources", "kernel_sources"}


@pytest.fixture
def offline_project(tmp_path, kernel_store, monkeypatch):
    """A project with local data and credentials but no emulator: --render-only never talks to Kaggle."""
    import shutil

    shutil.copytree(kernel_store / "digit-recognizer" / "data", tmp_path / "datasets" / "digit-recognizer")
    (tmp_path / "kk.toml").write_text('competition = "digit-recognizer"\nowner = "alice"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    monkeypatch.setenv("KK_KAGGLE_URL", "http://127.0.0.1:9")  # nothing listens: any network call would fail
    return tmp_path


def render(*args: str) -> tuple[dict, dict]:
    result = CliRunner().invoke(app, ["push-kernel", *args, "--render-only", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    rows = out["kernels"] if "kernels" in out else [out]
    metas = {}
    for row in rows:
        assert row["status"] == "RENDERED" and row["version"] is None
        metas[row["ref"]] = json.loads((Path(row["build_dir"]) / "kernel-metadata.json").read_text())
    return out, metas


@pytest.mark.parametrize("flags, gpu, tpu, shape", [
    (["--gpu"], True, False, "NvidiaTeslaT4"),
    (["--tpu"], False, True, "TpuV5E8"),
    (["--accelerator", "NvidiaL4"], True, False, "NvidiaL4"),
    (["--accelerator", "TpuV5E8"], False, True, "TpuV5E8"),
    (["--cpu"], False, False, None),
    ([], False, False, None),
])
def test_accelerator_flags_set_metadata_explicitly(offline_project, flags, gpu, tpu, shape):
    out, metas = render("train", *flags)
    meta = metas["alice/digit-recognizer-kk-train"]
    assert EXPLICIT_KEYS <= set(meta)
    assert (meta["enable_gpu"], meta["enable_tpu"], meta["machine_shape"]) == (gpu, tpu, shape)
    assert meta["enable_internet"] is False and meta["is_private"] is True
    assert meta["competition_sources"] == ["digit-recognizer"] and meta["kernel_type"] == "script"
    assert meta["code_file"] == "digit-recognizer-kk-train.py"
    assert (Path(out["build_dir"]) / meta["code_file"]).is_file()
    assert validate_metadata(meta) == []


def test_internet_public_and_inference_sources(offline_project):
    _, metas = render("train", "--internet", "--public", "--gpu")
    meta = metas["alice/digit-recognizer-kk-train"]
    assert meta["enable_internet"] is True and meta["is_private"] is False
    _, metas = render("inference", "--weights", "alice/my-weights", "--no-internet")
    meta = metas["alice/digit-recognizer-kk-inference"]
    assert meta["dataset_sources"] == ["alice/my-weights"] and meta["enable_internet"] is False
    assert meta["competition_sources"] == ["digit-recognizer"]


def test_bad_accelerator_choices_are_errors(offline_project):
    for args in (["--gpu", "--tpu"], ["--accelerator", "Pentium4"], ["--cpu", "--accelerator", "NvidiaL4"]):
        result = CliRunner().invoke(app, ["push-kernel", "train", *args, "--render-only"])
        assert result.exit_code == 1 and "error" in result.output, args


def test_bare_push_kernel_renders_the_kk_toml_competitions_training_kernel(offline_project):
    result = CliRunner().invoke(app, ["push-kernel", "--gpu", "--render-only", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["ref"] == "alice/digit-recognizer-kk-train"
    code = (Path(out["build_dir"]) / "digit-recognizer-kk-train.py").read_text()
    assert "name = \"default\"" in code  # the default recipe, resolved into the kernel as TOML


def test_training_options_reach_the_kernel_recipe(offline_project):
    _, metas = render("train", "--epochs", "3", "--limit", "200", "--batch-size", "16", "--seed", "7",
                      "--lr", "0.002", "--set", "augment.rotation=5", "--folds", "4", "--fold", "1", "--fold", "3")
    folder = offline_project / "kernels" / "build" / "digit-recognizer-kk-train"
    code = (folder / "digit-recognizer-kk-train.py").read_text()
    scope: dict = {}
    exec(code.split("def import_kaggle_kit")[0], scope)  # the readable configuration block at the top
    import tomllib

    recipe = tomllib.loads(scope["RECIPE_TOML"])
    assert (recipe["epochs"], recipe["limit"], recipe["batch_size"], recipe["seed"], recipe["folds"]) == (3, 200, 16, 7, 4)
    assert recipe["optimizer"]["lr"] == 0.002 and recipe["augment"]["rotation"] == 5
    assert scope["SETTINGS"]["folds"] == [1, 3] and scope["SETTINGS"]["kind"] == "train"
    spec = json.loads(scope["SPEC_JSON"])
    assert spec["id_column"] == "ImageId" and len(spec["classes"]) == 10


def _kernel_recipe(build_dir) -> dict:
    import tomllib

    scope: dict = {}
    exec(next(Path(build_dir).glob("*.py")).read_text().split("def import_kaggle_kit")[0], scope)
    return tomllib.loads(scope["RECIPE_TOML"])


def test_budget_reaches_the_kernel_recipe_and_must_fit_kaggles_session_limit(offline_project):
    out, _ = render("train", "--budget", "20", "--gpu")
    assert _kernel_recipe(out["build_dir"])["budget_minutes"] == 20
    # 5 folds x 120 min in one TPU session (9 h) cannot end: refused up front, with the way out
    result = CliRunner().invoke(app, ["push-kernel", "train", "--tpu", "--budget", "120", "--render-only"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "--budget 120 min x 5 folds in one kernel" in said and "TPU session's 9 h limit" in said, said
    assert "--parallel 2" in said and "at most 105 min" in said, said
    # ...which fits once the folds are split (3 + 2 folds of 120 min, each kernel under 9 h), or on a GPU (12 h)
    out, metas = render("train", "--tpu", "--budget", "120", "--parallel", "2")
    assert len(metas) == 2 and all(_kernel_recipe(k["build_dir"])["budget_minutes"] == 120 for k in out["kernels"])
    result = CliRunner().invoke(app, ["push-kernel", "train", "--gpu", "--budget", "120", "--render-only"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["push-kernel", "inference", "--budget", "5", "--render-only"])
    assert result.exit_code == 1 and "for training kernels" in result.output


def test_parallel_fans_folds_out_over_distinct_kernels(offline_project):
    out, metas = render("train", "--folds", "5", "--parallel", "2", "--gpu")
    assert sorted(metas) == ["alice/digit-recognizer-kk-train-p0", "alice/digit-recognizer-kk-train-p1"]
    folds, run_ids = [], set()
    for row in out["kernels"]:
        scope: dict = {}
        code = next(Path(row["build_dir"]).glob("*.py")).read_text()
        exec(code.split("def import_kaggle_kit")[0], scope)
        folds.append(scope["SETTINGS"]["folds"])
        run_ids.add(scope["SETTINGS"]["run_id"])
    assert folds == [[0, 2, 4], [1, 3]] and len(run_ids) == 1  # one run, disjoint fold subsets


def test_rendering_is_deterministic(offline_project):
    _, _ = render("inference", "--weights", "alice/my-weights")
    path = offline_project / "kernels/build/digit-recognizer-kk-inference/digit-recognizer-kk-inference.py"
    first = path.read_bytes()
    _, _ = render("inference", "--weights", "alice/my-weights")
    assert path.read_bytes() == first


def test_a_kernel_holding_the_key_is_refused(offline_project):
    result = CliRunner().invoke(app, ["push-kernel", "train", "--render-only", "--set", f'description="{KEY}"'])
    assert result.exit_code == 1
    assert "Kaggle key appears in" in result.output and KEY not in result.output
    assert not (offline_project / "kernels/build/digit-recognizer-kk-train").exists()


def test_bundle_holds_kernel_code_only():
    bundle = build_bundle()
    names = set(bundle.modules)
    assert {"kaggle_kit.kernels.runtime", "kaggle_kit.training.trainer", "kaggle_kit.training.predict",
            "kaggle_kit.submission", "kaggle_kit.competition"} <= names
    assert not [n for n in names if n.startswith(("kaggle_kit.cli", "kaggle_kit.emulator", "kaggle_kit.kaggle"))]
    assert "kaggle_kit.kernels.render" not in names and "kaggle_kit.kernels.sandbox" not in names
    members = read_bundle(bundle.encoded())
    assert all(n.endswith((".py", ".typed")) for n in members)
    assert "_vendor/tomli_w/__init__.py" in members  # config.py needs it; Kaggle's image lacks it


def test_a_forbidden_module_level_import_stops_the_bundle(tmp_path, monkeypatch):
    from kaggle_kit.kernels import bundle as bundle_mod
    from kaggle_kit.kernels.bundle import BundleError

    pkg = tmp_path / "kaggle_kit"
    (pkg / "training").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "training" / "__init__.py").write_text("")
    (pkg / "kernels").mkdir()
    (pkg / "kernels" / "__init__.py").write_text("")
    (pkg / "kernels" / "runtime.py").write_text("from kaggle_kit.training import fancy\n")
    (pkg / "training" / "fancy.py").write_text("import rich\n\ndef f():\n    import typer\n")
    monkeypatch.setattr(bundle_mod, "PACKAGE_DIR", pkg)
    with pytest.raises(BundleError, match=r"training/fancy.py imports rich"):
        kernel_modules()
    (pkg / "training" / "fancy.py").write_text("def f():\n    import typer  # only when called\n")
    assert "kaggle_kit.training.fancy" in kernel_modules()
    assert set(FORBIDDEN) >= {"typer", "rich", "flask"}


@pytest.mark.slow
def test_embedded_code_imports_without_kaggle_kit_installed(offline_project, tmp_path):
    """The rendered script's own bootstrap, in an interpreter that has numpy/TF but no kaggle_kit, no typer,
    no flask and no tomli_w: every embedded module imports, from the unpacked bundle."""
    _, metas = render("train")
    script = offline_project / "kernels/build/digit-recognizer-kk-train/digit-recognizer-kk-train.py"
    check = f"""
import importlib, os, runpy, sys
for name in ("kaggle_kit", "typer", "flask", "tomli_w", "click"):
    try:
        importlib.import_module(name)
        raise SystemExit("importable before the bundle: " + name)
    except ImportError:
        pass
os.environ["KK_KERNEL_RUN"] = "0"
scope = runpy.run_path({str(script)!r})
target = scope["import_kaggle_kit"]()
import kaggle_kit
assert os.path.realpath(kaggle_kit.__file__).startswith(os.path.realpath(target) + os.sep), kaggle_kit.__file__
mods = {build_bundle().modules!r}
for m in mods:
    importlib.import_module(m)
    assert os.path.realpath(sys.modules[m].__file__).startswith(os.path.realpath(target)), m
import kaggle_kit.config, tomli_w
assert tomli_w.__file__.startswith(os.path.realpath(target)) or tomli_w.__file__.startswith(target)
bad = sorted(set(sys.modules) & {{"typer", "flask", "werkzeug", "click", "kaggle", "kagglesdk"}})
assert not bad, bad
print("OK", kaggle_kit.__file__)
"""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(kernel_site_dir()), "HOME": str(tmp_path),
           "TMPDIR": str(tmp_path), "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-S", "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK" in proc.stdout and "kk-embedded-" in proc.stdout
    assert os.environ.get("KK_KERNEL_RUN") is None


def test_metadata_helpers():
    meta = kernel_metadata("bob/digit-recognizer-kk-train", "x.py", Accelerator.from_flags(tpu=True), internet=False)
    assert meta["title"] == "digit-recognizer-kk-train"
    bad = dict(meta, title="Something Else", enable_gpu=True)
    problems = validate_metadata(bad)
    assert any("slugify" in p for p in problems) and any("both" in p for p in problems)
    assert Accelerator.from_flags(accelerator="NvidiaTeslaP100").warnings()  # retired shape: warned, still sent


@pytest.mark.parametrize("flags", [{"gpu": True}, {"tpu": True}, {"accelerator": "NvidiaL4"},
                                   {"accelerator": "TpuV6E8"}, {"cpu": True}, {}])
def test_metadata_switches_read_back_as_the_requested_accelerator(flags):
    """The emulator and kk run-kernel read the session kind back from the switches kk push-kernel wrote."""
    acc = Accelerator.from_flags(**flags)
    meta = kernel_metadata("bob/digit-recognizer-kk-train", "x.py", acc, internet=False)
    assert Accelerator.from_switches(meta["enable_gpu"], meta["enable_tpu"], meta["machine_shape"]) == acc


def test_a_machine_shape_without_a_switch_is_a_cpu_session():
    assert Accelerator.from_switches(False, False, "NvidiaL4").kind == "cpu"
    assert Accelerator.from_switches(True, True, None).kind == "tpu"


def test_a_competition_in_the_kind_position_is_the_competition(offline_project):
    result = CliRunner().invoke(app, ["push-kernel", "kannada-mnist", "--tpu", "--render-only", "--json"])
    assert result.exit_code == 0, result.output  # not kk.toml's competition, and no local copy of it: still fine
    assert json.loads(result.stdout.strip().splitlines()[-1])["ref"] == "alice/kannada-mnist-kk-train"
    result = CliRunner().invoke(app, ["push-kernel", "infer", "digit-recognizer", "--render-only"])
    assert result.exit_code == 1 and "unknown kernel kind 'infer'" in result.output


def test_planning_reports_through_callbacks_not_a_console(offline_project):
    from kaggle_kit.kernels.planning import plan_train_kernels
    from kaggle_kit.kernels.workflow import KernelKind, Progress, TrainKernelRequest

    notes: list[str] = []
    request = TrainKernelRequest(competition="digit-recognizer", data_dir=offline_project / "elsewhere",
                                 owner="alice", folds="5", parallel=2)
    planning = plan_train_kernels(request, Progress(on_note=notes.append))
    assert planning.kind is KernelKind.TRAIN
    assert [p.slug for p in planning.plans] == ["digit-recognizer-kk-train-p0", "digit-recognizer-kk-train-p1"]
    assert [p.settings["folds"] for p in planning.plans] == [[0, 2, 4], [1, 3]]
    assert planning.run_dir.parent.name == "digit-recognizer"
    assert all(p.spec is None for p in planning.plans)  # no local data: the kernel detects the format
    assert any("no local copy of digit-recognizer" in n for n in notes), notes


def _rendered_texts(folder: Path) -> list[tuple[str, bytes]]:
    """Every rendered file's bytes, plus each module of the kernel's embedded bundle."""
    import base64
    import io
    import re
    import zipfile

    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        out.append((str(path), data))
        m = re.search(rb'KK_BUNDLE = """\n(.*?)\n"""', data, re.S)
        if m:
            with zipfile.ZipFile(io.BytesIO(base64.b64decode(b"".join(m.group(1).split())))) as zf:
                out += [(f"{path}!{n}", zf.read(n)) for n in zf.namelist()]
    return out


def test_no_local_path_user_name_or_command_line_in_rendered_kernels(offline_project):
    import pwd

    real_home = pwd.getpwuid(os.getuid()).pw_dir
    user = pwd.getpwuid(os.getuid()).pw_name
    data_dir = str(offline_project / "datasets" / "digit-recognizer")
    render("train", "--gpu", "--data-dir", data_dir, "--epochs", "1", "--set", "augment.rotation=7")
    render("inference", "--weights", "alice/my-weights", "--data-dir", data_dir, "--tta", "1")
    texts = _rendered_texts(offline_project / "kernels" / "build")
    assert len(texts) > 10  # both kernels, their metadata and embedded modules
    forbidden = [str(offline_project), str(offline_project.resolve()), real_home + "/", f"/home/{user}/",
                 os.environ["HOME"], "augment.rotation=7"]  # the last: the command line's --set
    leaks = [(name, needle) for name, data in texts for needle in forbidden if needle.encode() in data]
    assert leaks == []


def test_gpu_training_kernels_default_to_mixed_precision_unless_the_recipe_opts_out(offline_project):
    import tomllib

    def recipe_of(*args: str) -> dict:
        render("train", *args)
        code = (offline_project / "kernels/build/digit-recognizer-kk-train/digit-recognizer-kk-train.py").read_text()
        scope: dict = {}
        exec(code.split("def import_kaggle_kit")[0], scope)
        return tomllib.loads(scope["RECIPE_TOML"])

    assert recipe_of("--gpu")["mixed_precision"] is True
    assert recipe_of("--gpu", "--set", "mixed_precision=false")["mixed_precision"] is False
    assert recipe_of("--cpu")["mixed_precision"] is False
    assert recipe_of("--tpu")["mixed_precision"] is False  # the JAX path picks bfloat16 on its own
