"""Kaggle accelerators: the one table from the command line's flags to machine shapes to cpu/gpu/tpu.

Both sides of a kernel read it: `kk push-kernel` turns `--gpu/--tpu/--accelerator/--cpu` into the
`enable_gpu`, `enable_tpu` and `machine_shape` of `kernel-metadata.json`, and the emulator (like `kk run-kernel`)
turns those switches back into the kind of session it runs.

| flag                    | enable_gpu | enable_tpu | machine_shape                        |
|-------------------------|------------|------------|--------------------------------------|
| `--cpu` (the default)   | false      | false      | null (Kaggle's CPU session)          |
| `--gpu`                 | true       | false      | `NvidiaTeslaT4` (the "T4 x2" shape)  |
| `--tpu`                 | false      | true       | `TpuV5E8` (TPU v5e-8)                |
| `--accelerator SHAPE`   | by SHAPE: `Nvidia*` -> GPU, `Tpu*` -> TPU               | SHAPE  |

A core module: it imports nothing from the kernels, the emulator or the Kaggle client.

Example:
    >>> acc = Accelerator.from_flags(tpu=True)
    >>> acc.kind, acc.machine_shape, acc.enable_tpu
    ('tpu', 'TpuV5E8', True)
    >>> Accelerator.from_switches(enable_gpu=True, enable_tpu=False, machine_shape="NvidiaL4").describe()
    'GPU (NvidiaL4)'
"""

from __future__ import annotations

from dataclasses import dataclass

from kaggle_kit.errors import KKError

DEFAULT_GPU_SHAPE = "NvidiaTeslaT4"
DEFAULT_TPU_SHAPE = "TpuV5E8"
# Shapes Kaggle offers now (kk push-kernel passes others through with a warning; the emulator refuses them).
CURRENT_SHAPES = {
    "NvidiaTeslaT4": "gpu", "NvidiaL4": "gpu", "NvidiaL4X1": "gpu", "NvidiaH100": "gpu", "TpuV5E8": "tpu", "TpuV6E8": "tpu",
}
# Retired shapes Kaggle runs on a substitute: (substitute or None for CPU, its kind, the official client's text from
# its `_RETIRED_ACCELERATORS`).
RETIRED_SHAPES: dict[str, tuple[str | None, str, str]] = {
    "NvidiaTeslaP100": ("NvidiaTeslaT4", "gpu", "Sessions run on the default GPU (NvidiaTeslaT4) instead."),
    "TpuV38": ("TpuV5E8", "tpu", "Sessions run on the default TPU (TpuV5E8) instead."),
    "Tpu1VmV38": ("TpuV5E8", "tpu", "Sessions run on the default TPU (TpuV5E8) instead."),
    "TpuV232": (None, "cpu", "Sessions run on CPU instead, with no accelerator at all."),
    "TpuV2256": (None, "cpu", "Sessions run on CPU instead, with no accelerator at all."),
}
# Batch sessions one account may hold at once (queued or running), per accelerator: `kk push-kernel --parallel N`
# keeps within them and the emulator refuses a push beyond them with Kaggle's text. GPU 2: Kaggle's answer
# "Maximum batch GPU session count of 2 reached." (quoted in adapter-hub/playground#4, 2022; it was 4 in 2019,
# Kaggle/kaggle-cli#185). TPU 1 and CPU 5 are assumptions (no published figure found): lower is the strict side.
SESSION_LIMITS = {"cpu": 5, "gpu": 2, "tpu": 1}
# The longest a batch session may run, in hours (Kaggle's notebook docs: 12 h on CPU and GPU, 9 h on TPU).
SESSION_HOURS = {"cpu": 12.0, "gpu": 12.0, "tpu": 9.0}
KNOWN_SHAPES = {**CURRENT_SHAPES, **{name: kind for name, (_, kind, _) in RETIRED_SHAPES.items() if kind != "cpu"},
                "TpuV232": "tpu", "TpuV2256": "tpu"}


def canonical_shape(shape: str) -> str | None:
    """A machine shape as Kaggle spells it (shapes match case-insensitively), or None when unknown.

    Example:
        >>> canonical_shape("nvidiatesla t4".replace(" ", "")), canonical_shape("Quantum9000")
        ('NvidiaTeslaT4', None)
    """
    low = shape.strip().lower()
    return next((name for name in KNOWN_SHAPES if name.lower() == low), None)


@dataclass(frozen=True)
class Accelerator:
    """What a kernel asks Kaggle for: `kind` cpu/gpu/tpu and the machine shape (None for CPU)."""

    kind: str = "cpu"
    machine_shape: str | None = None

    @property
    def enable_gpu(self) -> bool:
        return self.kind == "gpu"

    @property
    def enable_tpu(self) -> bool:
        return self.kind == "tpu"

    @property
    def session_limit(self) -> int:
        """How many sessions of this kind one account may hold at once (`SESSION_LIMITS`)."""
        return SESSION_LIMITS[self.kind]

    @property
    def session_hours(self) -> float:
        """The longest one session of this kind may run (`SESSION_HOURS`)."""
        return SESSION_HOURS[self.kind]

    def describe(self) -> str:
        return "CPU" if self.kind == "cpu" else f"{self.kind.upper()} ({self.machine_shape})"

    @classmethod
    def from_flags(cls, gpu: bool = False, tpu: bool = False, accelerator: str | None = None,
                   cpu: bool = False) -> Accelerator:
        """One of `--gpu`, `--tpu`, `--accelerator SHAPE`, `--cpu` (none given: CPU)."""
        given = [name for name, on in (("--gpu", gpu), ("--tpu", tpu), ("--accelerator", bool(accelerator)),
                                       ("--cpu", cpu)) if on]
        if len(given) > 1:
            raise KKError(f"choose one accelerator option, not {' and '.join(given)}")
        if gpu:
            return cls("gpu", DEFAULT_GPU_SHAPE)
        if tpu:
            return cls("tpu", DEFAULT_TPU_SHAPE)
        if accelerator:
            return cls.from_shape(accelerator)
        return cls("cpu", None)

    @classmethod
    def from_shape(cls, shape: str) -> Accelerator:
        """A Kaggle machine shape (`NvidiaL4`, `TpuV5E8`, `cpu`) -> its accelerator; a `KKError` when unknown."""
        shape = shape.strip()
        if shape.lower() in ("none", "cpu"):
            return cls("cpu", None)
        kind = KNOWN_SHAPES.get(shape)
        if kind is None:
            low = shape.lower()
            kind = "gpu" if low.startswith("nvidia") else "tpu" if low.startswith("tpu") else None
        if kind is None:
            raise KKError(f"--accelerator {shape!r}: not a Kaggle machine shape",
                          hint=f"Known shapes: {', '.join(KNOWN_SHAPES)} (or use --gpu / --tpu / --cpu).")
        return cls(kind, shape)

    @classmethod
    def from_switches(cls, enable_gpu: bool, enable_tpu: bool, machine_shape: str | None = None) -> Accelerator:
        """A kernel's metadata switches -> the session Kaggle gives it: the TPU switch wins over the GPU one, and
        a machine shape without either switch is ignored (a CPU session, `machine_shape` kept for the record)."""
        kind = "tpu" if enable_tpu else "gpu" if enable_gpu else "cpu"
        return cls(kind, machine_shape or None)

    def warnings(self) -> list[str]:
        """What to tell the user before pushing: a retired or unknown machine shape."""
        out = []
        if self.machine_shape in RETIRED_SHAPES:
            out.append(f"machine shape {self.machine_shape} is retired on Kaggle. {RETIRED_SHAPES[self.machine_shape][2]}")
        elif self.machine_shape and self.machine_shape not in KNOWN_SHAPES:
            out.append(f"machine shape {self.machine_shape} is not one kk knows ({', '.join(KNOWN_SHAPES)}); "
                       "passing it to Kaggle as given")
        return out
