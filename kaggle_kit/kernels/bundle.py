"""The embedded code of a kernel: the `kaggle_kit` modules a kernel needs, zipped, compressed and base64-encoded.

A Kaggle kernel is one script run on Kaggle's stock image, with no pip and often no internet. So the rendered
script carries the code it needs: `build_bundle()` follows the `import kaggle_kit...` statements (module level
and inside functions) from the kernel runtime, adds whole packages whose modules are looked up by name at run
time (the training package's registries), and zips the `.py` files with fixed timestamps, so the same code
always gives the same bytes (and the same rendered kernel). Pure-Python libraries kaggle_kit imports that
Kaggle's image lacks (`tomli_w`) are vendored under `_vendor/`, which the kernel puts at the *end* of
`sys.path`, so an installed copy always wins.

Rendering refuses a bundle whose modules import, at module level, a library the kernel must not rely on
(`typer`, `rich`, `flask`, ... : the command line's libraries), so a stray import fails here and not after a
20-minute queue on Kaggle.

Example:
    >>> bundle = build_bundle()
    >>> bundle.modules[:2], len(bundle.data) < 400_000
    (['kaggle_kit', 'kaggle_kit.competition'], True)
    >>> text = bundle.encoded()          # base64 lines for the template
    >>> read_bundle(text).keys() >= {"kaggle_kit/__init__.py"}
    True
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import io
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import kaggle_kit
from kaggle_kit.errors import KKError

PACKAGE_DIR = Path(kaggle_kit.__file__).resolve().parent

# Where the kernel starts; everything else is found by following imports.
ENTRY_MODULES = ("kaggle_kit.kernels.runtime",)
# Packages embedded whole: their modules are also imported by name at run time (model and loss registries).
WHOLE_PACKAGES = ("kaggle_kit.training",)
# Never embedded: the host side (command line, Kaggle client, emulator, kernel rendering and pushing).
EXCLUDED_PACKAGES = ("kaggle_kit.cli", "kaggle_kit.emulator", "kaggle_kit.kaggle")
EXCLUDED_MODULES = ("kaggle_kit.kernels.render", "kaggle_kit.kernels.push", "kaggle_kit.kernels.weights",
                    "kaggle_kit.kernels.sandbox", "kaggle_kit.kernels.mounts", "kaggle_kit.kernels.local",
                    "kaggle_kit.kernels.metadata", "kaggle_kit.kernels.bundle", "kaggle_kit.kernels.workflow",
                    "kaggle_kit.kernels.planning", "kaggle_kit.kernels.isolation", "kaggle_kit.kernels.fanout")
# Libraries a kernel must not need at import time: the CLI's stack (Kaggle's image may lack them) and the client.
FORBIDDEN = ("typer", "rich", "click", "flask", "werkzeug", "kaggle", "kagglesdk", "shellingham")
# Pure-Python libraries kaggle_kit imports that Kaggle's image lacks: shipped in the bundle as a fallback.
VENDORED = ("tomli_w",)

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: identical code gives an identical bundle


class BundleError(KKError):
    """The kernel bundle cannot be built (a kernel-side module imports something a kernel cannot have)."""


@dataclass(frozen=True)
class Bundle:
    """The zipped code: `data` (zip bytes), the modules in it, and what each vendored library contributed."""

    data: bytes
    modules: list[str]
    vendored: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def encoded(self, width: int = 100) -> str:
        """base64 of the zip in lines of `width` characters (the kernel's `b64decode` skips the newlines)."""
        text = base64.b64encode(self.data).decode("ascii")
        return "\n".join(text[i:i + width] for i in range(0, len(text), width))

    def members(self) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
            return {n: zf.read(n) for n in zf.namelist()}


def module_file(name: str) -> Path | None:
    """Source file of a `kaggle_kit` module (package -> its `__init__.py`), or None if there is none."""
    rel = Path(*name.split("."))
    root = PACKAGE_DIR.parent
    for candidate in (root / rel / "__init__.py", root / rel.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _excluded(name: str) -> bool:
    return name in EXCLUDED_MODULES or any(name == p or name.startswith(p + ".") for p in EXCLUDED_PACKAGES)


@dataclass(frozen=True)
class _Imports:
    internal: set[str]  # kaggle_kit modules (anywhere in the file)
    external_top: set[str]  # top-level names of other libraries imported at module level


def _imports(path: Path, module: str) -> _Imports:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    internal: set[str] = set()
    external: set[str] = set()

    def add(name: str, top_level: bool) -> None:
        if name == "kaggle_kit" or name.startswith("kaggle_kit."):
            internal.add(name)
        elif top_level:
            external.add(name.split(".")[0])

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # typing-only imports never run
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, top_level)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".") if is_pkg else module.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    prefix = ".".join(base + ([child.module] if child.module else []))
                else:
                    prefix = child.module or ""
                add(prefix, top_level)
                for alias in child.names:  # `from kaggle_kit.training import trainer` imports a module
                    if prefix.startswith("kaggle_kit") and module_file(f"{prefix}.{alias.name}"):
                        internal.add(f"{prefix}.{alias.name}")
            visit(child, inner)

    visit(tree, True)
    return _Imports(internal, external)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def kernel_modules(entries: tuple[str, ...] = ENTRY_MODULES,
                   whole: tuple[str, ...] = WHOLE_PACKAGES) -> dict[str, Path]:
    """Every `kaggle_kit` module a kernel needs: the import closure of `entries` plus the `whole` packages."""
    todo = list(entries)
    for pkg in whole:
        folder = module_file(pkg)
        if folder is None:
            continue
        todo.append(pkg)
        todo += [f"{pkg}.{p.stem}" for p in sorted(folder.parent.glob("*.py")) if p.stem != "__init__"]
    found: dict[str, Path] = {}
    problems: list[str] = []
    while todo:
        name = todo.pop()
        if name in found or _excluded(name):
            continue
        path = module_file(name)
        if path is None:
            # `from kaggle_kit.x import SomeClass` names a class, not a module: the module itself is `kaggle_kit.x`.
            continue
        found[name] = path
        imports = _imports(path, name)
        bad = sorted(imports.external_top & set(FORBIDDEN))
        if bad:
            problems.append(f"{path.relative_to(PACKAGE_DIR.parent)} imports {', '.join(bad)} at module level")
        todo += [m for m in imports.internal if m not in found]
        todo += [p for p in _parents(name) if p not in found]
    if problems:
        raise BundleError("a module a kernel needs imports a library kernels cannot rely on:\n  "
                          + "\n  ".join(problems),
                          hint="Move that import inside the function that needs it (kernel code paths must run "
                               "on Kaggle's stock image).")
    return dict(sorted(found.items()))


def _vendored_files(name: str) -> list[tuple[str, Path]]:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        return []  # not installed here: nothing to ship (the kernel then needs it from the image)
    origin = Path(spec.origin)
    if origin.name == "__init__.py":
        base = origin.parent
        files = [p for p in sorted(base.rglob("*")) if p.is_file() and p.suffix in (".py", ".typed")
                 and "__pycache__" not in p.parts]
        return [(f"_vendor/{name}/{p.relative_to(base).as_posix()}", p) for p in files]
    return [(f"_vendor/{origin.name}", origin)]


def _add(zf: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data, compresslevel=9)


@lru_cache(maxsize=4)
def _build(stamp: tuple) -> Bundle:
    modules = kernel_modules()
    buf = io.BytesIO()
    vendored: list[str] = []
    with zipfile.ZipFile(buf, "w") as zf:
        for path in modules.values():
            _add(zf, path.relative_to(PACKAGE_DIR.parent).as_posix(), path.read_bytes())
        for lib in VENDORED:
            for arcname, path in _vendored_files(lib):
                _add(zf, arcname, path.read_bytes())
                vendored.append(arcname)
    return Bundle(buf.getvalue(), list(modules), vendored)


def build_bundle() -> Bundle:
    """The kernel bundle for the code as it is now (cached while no source file changes)."""
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(PACKAGE_DIR.rglob("*.py")))
    return _build(stamp)


def read_bundle(encoded: str) -> dict[str, bytes]:
    """The files inside a base64 bundle (as a rendered kernel carries it): name -> bytes."""
    data = base64.b64decode("".join(encoded.split()))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}
