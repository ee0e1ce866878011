"""Rendering a kernel: a `KernelPlan` (what to run, on what) -> `kernels/build/<slug>/` (code + metadata).

The templates are package data, `kaggle_kit/templates/kernel_{base,train,inference}.py.j2`, so an installed kk
renders the same kernels as a checkout. A project can override one by putting a file of the same name in its
own `kernels/` folder (next to `kk.toml`): kk then renders from that copy and says so. The rendered script
carries its configuration in plain text at the top (settings, recipe TOML, competition spec) and the embedded
kaggle_kit bundle at the bottom (see `kaggle_kit.kernels.bundle`).

Rendering is deterministic: the same plan and the same code give byte-identical files.

Example (writes into kernels/build/, so a plain code block):

    plan = train_plan("local", "digit-recognizer", load_recipe("default", ["epochs=1"]), "run-1", folds=[0, 1],
                      accelerator=Accelerator.from_flags(gpu=True))
    kernel = render_kernel(plan, "kernels/build")
    kernel.code_file.name, kernel.metadata["machine_shape"]   # ('digit-recognizer-kk-train.py', 'NvidiaTeslaT4')
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kaggle_kit import __version__
from kaggle_kit.accelerators import Accelerator
from kaggle_kit.errors import KKError
from kaggle_kit.io import atomic_write_json, atomic_write_text
from kaggle_kit.kernels.bundle import Bundle, build_bundle
from kaggle_kit.kernels.metadata import METADATA_FILE, kernel_metadata, kernel_slug

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATES = {"train": "kernel_train.py.j2", "inference": "kernel_inference.py.j2"}
PROJECT_TEMPLATES = "kernels"  # a project's override folder, next to kk.toml
MIN_SECRET = 8


@dataclass
class KernelPlan:
    """Everything that decides a rendered kernel."""

    kind: str  # "train" | "inference"
    owner: str
    slug: str
    competition: str
    settings: dict
    accelerator: Accelerator = field(default_factory=Accelerator)
    internet: bool = False
    public: bool = False
    recipe_toml: str | None = None
    spec: dict | None = None
    dataset_sources: list[str] = field(default_factory=list)
    kernel_sources: list[str] = field(default_factory=list)
    command: str = ""

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"

    @property
    def title(self) -> str:
        return self.slug  # Kaggle derives the slug from the title: keep them the same words

    @property
    def code_file(self) -> str:
        return f"{self.slug}.py"


@dataclass(frozen=True)
class RenderedKernel:
    """A rendered kernel folder: the code file, its metadata, and the plan and bundle it came from."""

    build_dir: Path
    code_file: Path
    metadata: dict
    plan: KernelPlan
    bundle: Bundle
    template: Path

    @property
    def ref(self) -> str:
        return self.metadata["id"]


def command_line(argv: list[str] | None = None) -> str:
    """The command that rendered the kernel (kept in the plan; never rendered: it may hold local paths)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return "kk " + " ".join(shlex.quote(a) for a in args)


def _base_settings(kind: str, competition: str, plan_accelerator: Accelerator, internet: bool, ref: str,
                   allow_cpu_fallback: bool = False) -> dict:
    return {
        "kind": kind, "competition": competition, "kernel": ref, "kk_version": __version__,
        "requested": {"accelerator": plan_accelerator.kind, "machine_shape": plan_accelerator.machine_shape,
                      "internet": internet, "allow_cpu_fallback": bool(allow_cpu_fallback)},
        # Chosen before Keras is imported: JAX is what reaches a TPU on Kaggle's TPU image (its TensorFlow is
        # tensorflow-cpu); everywhere else TensorFlow. Pinned so the image's default cannot change it.
        "keras_backend": "jax" if plan_accelerator.kind == "tpu" else "tensorflow",
    }


def train_plan(owner: str, competition: str, recipe, run_id: str, folds: list[int] | None = None,
               accelerator: Accelerator | None = None, internet: bool = False, public: bool = False,
               spec: dict | None = None, slug: str | None = None, part: str | None = None,
               command: str = "", allow_cpu_fallback: bool = False) -> KernelPlan:
    """A training kernel: `recipe` (a resolved `RecipeConfig`) on `folds` (None: all) into run `run_id`."""
    from kaggle_kit.config import to_toml

    accelerator = accelerator or Accelerator()
    slug = slug or kernel_slug(competition, "train", part)
    settings = _base_settings("train", competition, accelerator, internet, f"{owner}/{slug}", allow_cpu_fallback)
    settings.update(run_id=run_id, folds=sorted(folds) if folds is not None else None, recipe=recipe.name)
    return KernelPlan("train", owner, slug, competition, settings, accelerator, internet, public,
                      recipe_toml=to_toml(recipe), spec=spec, command=command)


def inference_plan(owner: str, competition: str, weights: str, tta: int | None = None,
                   ensemble_folds: list[int] | None = None, weighted: bool = False,
                   accelerator: Accelerator | None = None, internet: bool = False, public: bool = False,
                   spec: dict | None = None, slug: str | None = None, command: str = "",
                   allow_cpu_fallback: bool = False) -> KernelPlan:
    """An offline inference kernel: the weights dataset `weights` (owner/slug) -> submission.csv."""
    accelerator = accelerator or Accelerator()
    slug = slug or kernel_slug(competition, "inference")
    settings = _base_settings("inference", competition, accelerator, internet, f"{owner}/{slug}",
                              allow_cpu_fallback)
    settings.update(weights=weights, tta=tta, ensemble_folds=ensemble_folds, weighted=weighted)
    return KernelPlan("inference", owner, slug, competition, settings, accelerator, internet, public,
                      spec=spec, dataset_sources=[weights], command=command)


# Where the competition lives on this machine: meaningless on Kaggle, and it names the user's folders.
LOCAL_SPEC_KEYS = ("data_dir",)


def portable_spec(spec: dict) -> dict:
    """The competition format without this machine's paths (a kernel must not carry them)."""
    return {k: v for k, v in spec.items() if k not in LOCAL_SPEC_KEYS}


def _pystr(text: str | None) -> str:
    """A Python string literal for `text`: a readable triple-quoted raw string when safe, else repr()."""
    if text is None:
        return "None"
    if "'''" not in text and not text.endswith("\\") and "\r" not in text:
        return "r'''" + ("\n" if not text.startswith("\n") else "") + text + "'''"
    return repr(text)


def template_search_path(project_dir: Path | None = None) -> list[Path]:
    """Where templates are looked up: the project's `kernels/` (overrides) first, then the package's."""
    from kaggle_kit.project import project_root

    root = project_dir or project_root()
    paths = []
    override = root / PROJECT_TEMPLATES
    if override.is_dir():
        paths.append(override)
    paths.append(PACKAGE_TEMPLATES)
    return paths


def _environment(search: list[Path]):
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(p) for p in search]), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["pystr"] = _pystr
    return env


def render_text(plan: KernelPlan, bundle: Bundle | None = None, project_dir: Path | None = None) -> tuple[str, Path]:
    """(the kernel's code, the template file it came from)."""
    if plan.kind not in TEMPLATES:
        raise KKError(f"unknown kernel kind {plan.kind!r}; choose train or inference")
    bundle = bundle or build_bundle()
    search = template_search_path(project_dir)
    env = _environment(search)
    name = TEMPLATES[plan.kind]
    template = env.get_template(name)
    source = Path(template.filename or PACKAGE_TEMPLATES / name)
    context = {
        "title": plan.title, "kind": plan.kind, "competition": plan.competition, "kk_version": __version__,
        "command": plan.command or "(rendered from Python)",
        "settings_json": json.dumps(plan.settings, indent=2, sort_keys=True),
        "recipe_toml": plan.recipe_toml, "recipe_name": plan.settings.get("recipe"),
        "spec_json": json.dumps(portable_spec(plan.spec), indent=2, sort_keys=True) if plan.spec else None,
        "run_id": plan.settings.get("run_id"), "folds": plan.settings.get("folds"),
        "weights": plan.settings.get("weights"), "tta": plan.settings.get("tta"),
        "modules": bundle.modules, "vendored": sorted({v.split("/")[1] for v in bundle.vendored}),
        "bundle": bundle.encoded(), "bundle_sha256": bundle.sha256,
    }
    text = template.render(**context)
    try:
        compile(text, plan.code_file, "exec")
    except SyntaxError as exc:
        raise KKError(f"template {source} rendered invalid Python at line {exc.lineno}: {exc.msg}") from None
    return text, source


def render_kernel(plan: KernelPlan, build_root: str | Path = "kernels/build", secret: str | None = None,
                  project_dir: Path | None = None) -> RenderedKernel:
    """Write `build_root/<slug>/<slug>.py` and `kernel-metadata.json`; returns what was written.

    `secret` (the user's Kaggle key) is checked against everything that goes into the kernel, the embedded
    modules included: a kernel is uploaded to Kaggle and may be made public.
    """
    bundle = build_bundle()
    text, source = render_text(plan, bundle, project_dir)
    competition_sources = [plan.competition]
    meta = kernel_metadata(plan.ref, plan.code_file, plan.accelerator, plan.internet, plan.public,
                           competition_sources=competition_sources, dataset_sources=plan.dataset_sources,
                           kernel_sources=plan.kernel_sources, title=plan.title)
    if secret:
        check_no_secret(secret, {plan.code_file: text.encode(), METADATA_FILE: json.dumps(meta).encode(),
                                 **{f"bundle:{k}": v for k, v in bundle.members().items()}})
    folder = Path(build_root) / plan.slug
    folder.mkdir(parents=True, exist_ok=True)
    code = atomic_write_text(folder / plan.code_file, text)
    atomic_write_json(folder / METADATA_FILE, meta)
    return RenderedKernel(folder, code, meta, plan, bundle, source)


def check_no_secret(secret: str, files: dict[str, bytes]) -> None:
    """Refuse (a `KKError` naming the file, never the secret) if `secret` occurs in any of `files`.

    Secrets shorter than `MIN_SECRET` are not checked: real Kaggle keys are 32 hex characters, and toy keys of
    an emulator (`local:local`) would match the owner's own name everywhere.
    """
    if not secret or len(secret) < MIN_SECRET:
        return
    needle = secret.encode()
    leaks = [name for name, data in files.items() if needle in data]
    if leaks:
        raise KKError(f"refusing to upload: your Kaggle key appears in {', '.join(sorted(leaks))}",
                      hint="Remove it from those files (kernels and datasets are uploaded to Kaggle and may be public).")
