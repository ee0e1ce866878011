"""Kaggle kernels: render self-contained training and inference kernels, run them locally like Kaggle does,
push them, wait for them, fetch their outputs, and publish a run's weights as a dataset.

Modules: `bundle` (the embedded kaggle_kit code), `metadata` (kernel-metadata.json, accelerators), `render`
(templates -> kernels/build/<slug>/), `runtime` (what runs inside a kernel), `sandbox` (the local runner shared
by `kk run-kernel` and the emulator), `push` (push, wait, outputs, parallel fan-out), `weights`
(`kk upload-weights`). Nothing heavy is imported here.
"""
