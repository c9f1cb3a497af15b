"""The Keras names a spec may use, declared here because the parent never imports Keras.

A spec's architecture check compares its layer ``type`` with the class name of each
saved layer (``type(layer).__name__``) and its ``activation`` with the name Keras
writes into the layer's config, so these are the names that can ever match. Aliases
that Keras accepts in code (``MaxPool2D``, ``"swish"``) are saved under another name
and would never match; they are listed apart, to say which name to write instead.

tests/assignment/test_keras_vocabulary.py holds these lists equal to the installed
Keras (3.15), so an upgrade that adds or renames a layer fails there, not in a spec.
"""

from __future__ import annotations

import difflib

from grader.parent.checks.architecture import MODEL_TYPES

LAYER_TYPES: frozenset[str] = frozenset({
    "Activation", "ActivityRegularization", "AdaptiveAveragePooling1D",
    "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D", "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "Add", "AdditiveAttention",
    "AlphaDropout", "Attention", "AugMix", "AutoContrast", "Average", "AveragePooling1D",
    "AveragePooling2D", "AveragePooling3D", "BatchNormalization", "Bidirectional",
    "CategoryEncoding", "CenterCrop", "Concatenate",
    "ContrastLimitedAdaptiveHistogramEqualization", "Conv1D", "Conv1DTranspose", "Conv2D",
    "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "ConvLSTM1D", "ConvLSTM2D",
    "ConvLSTM3D", "Cropping1D", "Cropping2D", "Cropping3D", "CutMix", "Dense",
    "DepthwiseConv1D", "DepthwiseConv2D", "Discretization", "Dot", "Dropout", "ELU",
    "EinsumDense", "Embedding", "Equalization", "Flatten", "FlaxLayer", "GRU", "GRUCell",
    "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "GlobalMaxPooling3D", "GroupNormalization", "GroupedQueryAttention", "HashedCrossing",
    "Hashing", "Identity", "InputLayer", "IntegerLookup", "JaxLayer", "LSTM", "LSTMCell",
    "Lambda", "Layer", "LayerNormalization", "LeakyReLU", "Masking", "MaxNumBoundingBoxes",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Maximum", "MelSpectrogram", "Minimum",
    "MixUp", "MultiHeadAttention", "Multiply", "Normalization", "PReLU", "Permute",
    "Pipeline", "RMSNormalization", "RNN", "RandAugment", "RandomBrightness",
    "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop",
    "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur",
    "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPerspective",
    "RandomPosterization", "RandomRotation", "RandomSaturation", "RandomSharpness",
    "RandomShear", "RandomTranslation", "RandomZoom", "ReLU", "RepeatVector", "Rescaling",
    "Reshape", "Resizing", "ReversibleEmbedding", "STFTSpectrogram", "SeparableConv1D",
    "SeparableConv2D", "SimpleRNN", "SimpleRNNCell", "Softmax", "Solarization",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "SpectralNormalization",
    "StackedRNNCells", "StringLookup", "Subtract", "TFSMLayer", "TextVectorization",
    "TimeDistributed", "TorchModuleWrapper", "UnitNormalization", "UpSampling1D",
    "UpSampling2D", "UpSampling3D", "Wrapper", "ZeroPadding1D", "ZeroPadding2D",
    "ZeroPadding3D",
})
"""The class name of every layer class in ``keras.layers``."""

LAYER_ALIASES: dict[str, str] = {
    **{f"AvgPool{d}D": f"AveragePooling{d}D" for d in (1, 2, 3)},
    **{f"GlobalAvgPool{d}D": f"GlobalAveragePooling{d}D" for d in (1, 2, 3)},
    **{f"GlobalMaxPool{d}D": f"GlobalMaxPooling{d}D" for d in (1, 2, 3)},
    **{f"MaxPool{d}D": f"MaxPooling{d}D" for d in (1, 2, 3)},
    **{f"Convolution{d}D": f"Conv{d}D" for d in (1, 2, 3)},
    **{f"Convolution{d}DTranspose": f"Conv{d}DTranspose" for d in (1, 2, 3)},
    **{f"SeparableConvolution{d}D": f"SeparableConv{d}D" for d in (1, 2)},
    "GroupQueryAttention": "GroupedQueryAttention",
}
"""Other names ``keras.layers`` exports for a class: alias -> the class name saved."""

SPEC_LAYER_TYPES: frozenset[str] = LAYER_TYPES | MODEL_TYPES
"""What a spec's layer ``type`` may say: a layer class, or a nested model ("Model"
matches any; see grader/parent/checks/architecture.py)."""

ACTIVATIONS: frozenset[str] = frozenset({
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu",
    "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign",
    "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "tanh", "tanh_shrink",
    "threshold",
})
"""The name Keras saves for each function of ``keras.activations``."""

ACTIVATION_ALIASES: dict[str, str] = {"swish": "silu", "hard_swish": "hard_silu"}
"""Activation names Keras accepts but saves under another name."""


def layer_type_problem(name: str) -> str | None:
    """Why a spec's layer ``type`` can never match a saved layer, naming the closest
    known type; None when it can match."""
    return _problem(name, SPEC_LAYER_TYPES, LAYER_ALIASES, "Keras layer type", "keras.layers")


def activation_problem(name: str) -> str | None:
    """The same for an ``activation``, compared without case as the architecture check
    compares it."""
    return _problem(name, ACTIVATIONS, ACTIVATION_ALIASES, "activation", "keras.activations",
                    ignore_case=True)


def _problem(name: str, known: frozenset[str], aliases: dict[str, str], what: str,
             home: str, ignore_case: bool = False) -> str | None:
    key = name.lower() if ignore_case else name
    if key in known:
        return None
    if key in aliases:
        return (f"{what} {name!r} is an alias that Keras saves as {aliases[key]!r}, so it "
                f"never matches a saved model; write {aliases[key]!r}")
    by_case = {k.lower(): k for k in known}
    if name.lower() in by_case:  # "conv2d": the class names are case-sensitive
        return f"unknown {what} {name!r}; did you mean {by_case[name.lower()]!r}?"
    close = difflib.get_close_matches(key, sorted(known | aliases.keys()), n=1, cutoff=0.6)
    if close:
        return f"unknown {what} {name!r}; did you mean {aliases.get(close[0], close[0])!r}?"
    return f"unknown {what} {name!r}: {home} has nothing of that name"
