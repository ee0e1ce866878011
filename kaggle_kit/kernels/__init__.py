"""Kaggle kernels: render self-contained training and inference kernels, run them locally like Kaggle does,
push them, wait for them, fetch their outputs, and publish a run's weights as a dataset.

Modules: `workflow` (what `kk push-kernel` does: typed requests, progress callbacks, typed reports), `planning`
(a request -> kernel plans), `bundle` (the embedded kaggle_kit code), `metadata` (kernel-metadata.json; the
accelerator table is `kaggle_kit.accelerators`), `render` (templates -> kernels/build/<slug>/), `runtime` (what
runs inside a kernel), `sandbox` (the local runner shared by `kk run-kernel` and the emulator), `mounts` (where
inputs appear), `local` (`kk run-kernel`), `push` (push, outputs, run folders), `fanout` (`--parallel N` within Kaggle's session
limits), `weights`
(`kk upload-weights`). Nothing heavy is imported here.
"""
