"""Custom Keras layers used by the model zoo.

Every layer here is registered with Keras under the package name `kaggle_kit`, so a saved `.keras` file reloads
with plain `keras.models.load_model(path)` once this module is imported (no `custom_objects`).

Swish is not reimplemented: use `activation="swish"` (Keras ships `keras.activations.swish`).

Example:
    >>> import keras
    >>> x = keras.Input((7, 7, 32))
    >>> y = SqueezeExcite(ratio=4)(x)       # same shape, channels re-weighted by a learned gate in (0, 1)
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="kaggle_kit")
class SqueezeExcite(layers.Layer):
    """Squeeze-and-excitation (Hu et al., 2017): `x * sigmoid(W2 act(W1 mean_hw(x)))`, one gate per channel.

    `ratio` divides the channel count for the bottleneck (the seed 001 notebook used 2); `activation` is the
    bottleneck's activation (seed 001: swish).

    Example:
        >>> y = SqueezeExcite(ratio=2, activation="swish")(keras.ops.ones((1, 4, 4, 8)))
    """

    def __init__(self, ratio: int = 2, activation: str = "swish", **kwargs):
        super().__init__(**kwargs)
        if ratio < 1:
            raise ValueError(f"SqueezeExcite: ratio must be >= 1, got {ratio}")
        self.ratio = int(ratio)
        self.activation = activation

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.reduce = layers.Dense(
            max(1, channels // self.ratio),
            activation=self.activation,
            kernel_initializer="he_normal",
            dtype=self.dtype_policy,
            name="reduce",
        )
        self.expand = layers.Dense(
            channels, activation="sigmoid", kernel_initializer="he_normal", dtype=self.dtype_policy, name="expand"
        )
        self.reduce.build((input_shape[0], channels))
        self.expand.build((input_shape[0], max(1, channels // self.ratio)))

    def gate(self, inputs):
        """The per-channel scale in (0, 1), shape `(batch, channels)`."""
        squeezed = ops.mean(inputs, axis=(1, 2))
        return self.expand(self.reduce(squeezed))

    def call(self, inputs):
        scale = self.gate(inputs)
        return inputs * scale[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio, "activation": self.activation}
