"""Model registry: every architecture builds, takes uint8, outputs probabilities; custom layers round-trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kaggle_kit.errors import ConfigError
from kaggle_kit.training.config import ModelConfig
from kaggle_kit.training.layers import SqueezeExcite
from kaggle_kit.training.models import available_models, build_model, register_model

SEED_MODELS = {"seed000_vgg", "seed001_se", "seed002_small", "seed003_deotte", "seed004_cnn", "kk_cnn"}


def test_registry_lists_every_notebook_network():
    assert SEED_MODELS <= set(available_models())


@pytest.mark.parametrize("name", sorted(SEED_MODELS))
def test_forward_pass_on_uint8_gives_probabilities(name):
    # width 0.25 keeps the big nets quick; the structure (and its code path) is the same
    model = build_model(ModelConfig(name=name, params={"width": 0.25}), (28, 28, 1), 10)
    assert model.inputs[0].dtype == "uint8"
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    probs = keras.ops.convert_to_numpy(model(images, training=False))
    assert probs.shape == (3, 10) and probs.dtype == np.float32
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_params_change_the_network_and_unknown_params_are_named():
    narrow = build_model(ModelConfig(name="seed003_deotte", params={"width": 0.5}), (28, 28, 1), 10)
    full = build_model(ModelConfig(name="seed003_deotte"), (28, 28, 1), 10)
    assert narrow.count_params() < full.count_params() / 2
    swish = build_model(ModelConfig(name="kk_cnn", params={"activation": "swish"}), (28, 28, 1), 10)
    assert any(getattr(layer, "activation", None) is keras.activations.swish for layer in swish.layers)
    with pytest.raises(ConfigError, match="'depth'"):
        build_model(ModelConfig(name="kk_cnn", params={"depth": 3}), (28, 28, 1), 10)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        build_model(ModelConfig(name="nope"), (28, 28, 1), 10)
    with pytest.raises(ConfigError, match="dropout"):
        build_model(ModelConfig(name="kk_cnn", params={"dropout": 1.5}), (28, 28, 1), 10)


def test_other_shapes_and_class_counts():
    model = build_model(ModelConfig(name="kk_cnn"), (32, 32, 3), 7)
    out = model(np.zeros((2, 32, 32, 3), np.uint8))
    assert tuple(out.shape) == (2, 7)


def test_register_model_adds_a_buildable_architecture():
    @register_model("test_tiny_net")
    def tiny(input_shape, num_classes, width=1.0):
        """A test-only network (registries list every model with its description)."""
        inputs = keras.Input(input_shape, dtype="uint8")
        x = keras.layers.Rescaling(1 / 255)(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))

    assert "test_tiny_net" in available_models()
    assert build_model(ModelConfig(name="test_tiny_net"), (8, 8, 1), 3).output_shape == (None, 3)


def test_squeeze_excite_scales_channels_like_the_manual_computation():
    layer = SqueezeExcite(ratio=2, activation="relu")
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 8)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == x.shape
    w1, b1 = (keras.ops.convert_to_numpy(v) for v in layer.reduce.weights)
    w2, b2 = (keras.ops.convert_to_numpy(v) for v in layer.expand.weights)
    assert w1.shape == (8, 4) and w2.shape == (4, 8)
    hidden = np.maximum(x.mean(axis=(1, 2)) @ w1 + b1, 0)
    gate = 1 / (1 + np.exp(-(hidden @ w2 + b2)))
    assert np.all((gate > 0) & (gate < 1))
    np.testing.assert_allclose(y, x * gate[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_model_with_custom_layers_survives_keras_round_trip(tmp_path):
    model = build_model(ModelConfig(name="seed001_se", params={"width": 0.125}), (28, 28, 1), 10)
    images = np.random.default_rng(2).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
    before = keras.ops.convert_to_numpy(model(images, training=False))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects: SqueezeExcite is registered
    assert any(isinstance(layer, SqueezeExcite) for layer in loaded.layers)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(images, training=False)), before, atol=1e-6)


def test_mixed_precision_keeps_float32_probabilities():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(ModelConfig(name="seed001_se", params={"width": 0.125}), (28, 28, 1), 10)
        assert model.get_layer("logits").compute_dtype == "float16"
        probs = model(np.zeros((2, 28, 28, 1), np.uint8))
        assert probs.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
