"""Which machine a pushed kernel runs on.

`resolve_machine` reads a push's switches and machine shape the way Kaggle does: a retired shape runs on its
substitute (with the official client's warning), an unknown one is refused; the table itself is
`kaggle_kit.accelerators`, shared with `kk push-kernel`.
"""

from __future__ import annotations

from kaggle_kit.accelerators import CURRENT_SHAPES, RETIRED_SHAPES, Accelerator, canonical_shape
from kaggle_kit.emulator.core import bad_request
from kaggle_kit.emulator.kernel_records import KernelSettings


def resolve_machine(settings: KernelSettings) -> tuple[str, str | None, str | None]:
    """`(accelerator, machine shape, warning)` a push runs on; 400 for a shape Kaggle does not have.

    The accelerator follows enable_gpu/enable_tpu; a retired shape is replaced (a retired TPU v2 by the CPU).

    Example:
        >>> resolve_machine(KernelSettings(enable_gpu=True, machine_shape="NvidiaTeslaP100"))[:2]
        ('gpu', 'NvidiaTeslaT4')
    """
    kind = Accelerator.from_switches(settings.enable_gpu, settings.enable_tpu).kind
    shape = (settings.machine_shape or "").strip()
    if not shape:
        return kind, None, None
    name = canonical_shape(shape)
    if name is None:
        raise bad_request(f"Invalid machine shape {shape!r}: valid shapes are {', '.join(CURRENT_SHAPES)}")
    if name in RETIRED_SHAPES:
        new_shape, new_kind, detail = RETIRED_SHAPES[name]
        return (new_kind if kind != "cpu" else "cpu"), (new_shape if kind != "cpu" else None), \
            f"'{shape}' is retired. {detail}"
    shape_kind = CURRENT_SHAPES[name]
    if kind != "cpu" and shape_kind != kind:
        raise bad_request(f"Machine shape {name} is a {shape_kind.upper()} shape but the kernel enables "
                          f"the {kind.upper()}")
    return kind, (name if kind != "cpu" else None), None
