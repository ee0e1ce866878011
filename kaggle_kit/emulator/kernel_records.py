"""The kernels service's records: what a push asks for (`SaveKernelRequest`, `KernelSettings`) and what is kept
(`Kernel` and its numbered `KernelVersion`s).

Example:
    >>> request = SaveKernelRequest(slug="local/my-kernel", text="print(1)",
    ...                             settings=KernelSettings(enable_gpu=True, competition_data_sources=["digit-recognizer"]))
    >>> request.settings.enable_gpu, request.settings.is_private, request.quick_save
    (True, True, False)
    >>> KernelSettings.from_state({"enableGpu": True, "machineShape": "NvidiaTeslaT4"}).machine_shape
    'NvidiaTeslaT4'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kaggle_kit.status import KernelStatus


@dataclass(frozen=True)
class KernelSettings:
    """What decides a version's run and what GetKernel reports back: kernel-metadata.json's settings."""

    language: str = "python"
    kernel_type: str = "script"  # "script" | "notebook"
    is_private: bool = True
    enable_gpu: bool = False
    enable_tpu: bool = False
    enable_internet: bool = False
    machine_shape: str | None = None
    competition_data_sources: list[str] = field(default_factory=list)
    dataset_data_sources: list[str] = field(default_factory=list)  # "owner/slug"
    kernel_data_sources: list[str] = field(default_factory=list)  # "owner/slug"
    model_data_sources: list[str] = field(default_factory=list)
    category_ids: list[str] = field(default_factory=list)
    docker_image: str | None = None
    session_timeout_seconds: int | None = None

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> KernelSettings:
        # State written before settings were typed kept SaveKernel's camelCase names.
        return cls(**{re.sub(r"(?<=[a-z])(?=[A-Z])", "_", k).lower(): v for k, v in d.items()})


@dataclass(frozen=True)
class SaveKernelRequest:
    """A push (SaveKernel): which kernel, its code, and the settings of the new version.

    `slug` is `owner/slug` or a bare slug (the caller's own); empty with `id` to push to an existing kernel by id.
    `quick_save` stores the version without running it.
    """

    slug: str = ""
    id: int | None = None
    text: str = ""
    new_title: str | None = None
    settings: KernelSettings = field(default_factory=KernelSettings)
    quick_save: bool = False


@dataclass
class KernelVersion:
    number: int
    created: float
    title: str
    code_file: str
    settings: KernelSettings
    execution: str = "RUN"  # "RUN" | "QUICK_SAVE"
    status: KernelStatus = KernelStatus.QUEUED
    failure_message: str | None = None
    started: float | None = None
    finished: float | None = None
    outputs: list[str] = field(default_factory=list)
    isolation: str | None = None
    accelerator: str = "cpu"  # what the session counts against: cpu, gpu or tpu (see KernelsBackend.session_limits)
    machine_shape: str | None = None  # the shape it runs on after a retired one was substituted


@dataclass
class Kernel:
    id: int
    owner: str
    slug: str
    title: str
    is_private: bool
    created: float
    versions: list[KernelVersion] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"

    @property
    def url(self) -> str:
        return f"https://www.kaggle.com/code/{self.ref}"

    @property
    def current(self) -> KernelVersion:
        return self.versions[-1]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Kernel:
        versions = [KernelVersion(**{**v, "settings": KernelSettings.from_state(v["settings"]),
                                     "status": KernelStatus(v["status"])}) for v in d["versions"]]
        return cls(**{**d, "versions": versions})
