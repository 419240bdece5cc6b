"""Demo 1 and 2: the 8x8 digits MLP, its int8 quantization and its bit-exact integer reference.

Network: 64 pixels -> dense 64 (ReLU) -> dense 10 (logits). The hidden layer has per-channel
int8 weights, an int32 bias and per-channel requantization (POSTPROC); its output scale is
calibrated on the training set. The classifier takes the hidden vector plus one constant input
(:data:`BIAS_INPUT`), so its bias is an ordinary weight row: the logits are a pure MVM (ARGMAX
reads them straight from the accumulator) and WEIGHT_UPDATE trains the bias with the weights.
It uses one per-tensor scale: ARGMAX compares its int32 logits directly, which per-channel
scales would make incomparable, and on-device learning's single learning-rate shift then means
the same step for every class.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from npu_model import emit, layout, quant

SEED = 0
TEST_FRACTION = 0.25
HIDDEN = 64
CLASSES = 10
BATCH = 64  # rows per NPU forward pass (inference); the scratchpad plan below is sized for it
IDENTITY_MULT = 2**30  # with shift 1: the identity requantization (docs/npu.md, ELTWISE)
BIAS_INPUT = 127  # the constant extra input of the classifier (its real value is 127 * hidden scale)
CALIBRATION_PERCENTILE = 99.99  # hidden-activation range: robust max over the training set

# On-device learning (Demo 2): margin-perceptron error at the logits, back-propagated through the
# classifier with MVM_T into the hidden layer; both layers updated with nearest-rounded WEIGHT_UPDATE.
LEARN_EPOCHS = 5
LEARN_DECAY = (0, 0, 1, 1, 2)  # per epoch: added to both right shifts (learning rate / 2^decay)
REHEARSAL = 256  # original (unshifted) training digits mixed into the learning set: no forgetting
REHEARSAL_SEED = 1
LEARN_BATCH = 32
LEARN_SHIFT = 9  # classifier WEIGHT_UPDATE right shift: learning rate ERROR_STEP / 2^LEARN_SHIFT
LEARN_SHIFT_HIDDEN = 12  # hidden-layer WEIGHT_UPDATE right shift
DELTA_SHIFT = 5  # back-propagated error d @ W2^T (|.| <= ~4000) >> 5 -> int8
ERROR_STEP = 16  # |d| of the error signal
MARGIN = 2.0  # update a sample while logit(true) - logit(best other) < MARGIN (float logit units)


@dataclass(frozen=True)
class Digits:
    """The fixed split of sklearn's digits, plus the shifted copies Demo 2 adapts to."""

    train_x: np.ndarray  # (n, 64) uint8 pixels 0..16
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray

    @property
    def shifted_train_x(self) -> np.ndarray:
        return shift_right(self.train_x)

    @property
    def shifted_test_x(self) -> np.ndarray:
        return shift_right(self.test_x)


def load_digits() -> Digits:
    """The 1797 8x8 digits, split 75/25 stratified with a fixed seed (the same on every build)."""
    from sklearn.datasets import load_digits as sk_load
    from sklearn.model_selection import train_test_split

    x, y = sk_load(return_X_y=True)
    tx, vx, ty, vy = train_test_split(x.astype(np.uint8), y.astype(np.int32), test_size=TEST_FRACTION,
                                      random_state=SEED, stratify=y)
    return Digits(tx, ty, vx, vy)


def shift_right(pixels: np.ndarray) -> np.ndarray:
    """Every image moved one pixel to the right (zero fill): new data the network never saw."""
    img = pixels.reshape(-1, 8, 8)
    out = np.zeros_like(img)
    out[:, :, 1:] = img[:, :, :-1]
    return out.reshape(-1, 64)


def quantize_input(pixels: np.ndarray) -> np.ndarray:
    """Pixels 0..16 -> int8 0..127 (scale 1/127 of the float model's input pixel/16), rounded."""
    return ((pixels.astype(np.int32) * 127 + 8) // 16).astype(np.int8)


@dataclass(frozen=True)
class FloatMLP:
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray


def train(data: Digits) -> FloatMLP:
    """A float MLP with sklearn (Adam, fixed seed): deterministic, under a second on one core."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), random_state=SEED, max_iter=200, alpha=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.train_x / 16.0, data.train_y)
    return FloatMLP(clf.coefs_[0], clf.intercepts_[0], clf.coefs_[1], clf.intercepts_[1])


@dataclass(frozen=True)
class QuantMLP:
    """The int8 network exactly as the firmware runs it (arrays as emitted into the C header)."""

    w1: np.ndarray  # (64, HIDDEN) int8, per-channel scales
    b1: np.ndarray  # (HIDDEN,) int32
    mult1: np.ndarray  # (HIDDEN,) int32 Q31 multipliers
    shift1: np.ndarray  # (HIDDEN,) int32 shifts
    w2: np.ndarray  # (HIDDEN + 1, 10) int8: classifier weights, last row = bias row
    margin: int  # MARGIN in int32 logit units

    @property
    def k2(self) -> int:
        return self.w2.shape[0]

    def save(self, path: Path, digest: str) -> None:
        np.savez(path, digest=np.array(digest), **asdict(self))

    @classmethod
    def load(cls, path: Path, digest: str) -> QuantMLP | None:
        """The cached model, or None when it was made by other versions of these tools."""
        with np.load(path) as z:
            if str(z["digest"]) != digest:
                return None
            return cls(**{k: (int(z[k]) if z[k].ndim == 0 else z[k]) for k in z.files if k != "digest"})


def quantize(model: FloatMLP, data: Digits) -> QuantMLP:
    """Per-channel int8 hidden weights, calibrated hidden scale, per-tensor classifier with bias row."""
    s_x = 1.0 / 127.0  # quantize_input: x_q = pixel/16 * 127
    s_w1 = np.maximum(np.abs(model.w1).max(axis=0), 1e-8) / 127.0
    w1 = np.clip(np.round(model.w1 / s_w1), -127, 127).astype(np.int8)
    b1 = np.round(model.b1 / (s_x * s_w1)).astype(np.int32)
    hidden = np.maximum(data.train_x / 16.0 @ model.w1 + model.b1, 0.0)
    s_h = float(np.percentile(hidden, CALIBRATION_PERCENTILE)) / 127.0
    pairs = [quant.quantize_multiplier(float(s_x * s / s_h)) for s in s_w1]
    mult1 = np.array([p[0] for p in pairs], dtype=np.int32)
    shift1 = np.array([p[1] for p in pairs], dtype=np.int32)
    w2_aug = np.vstack([model.w2, model.b2 / (BIAS_INPUT * s_h)])
    s_w2 = float(np.abs(w2_aug).max()) / 127.0
    w2 = np.clip(np.round(w2_aug / s_w2), -127, 127).astype(np.int8)
    margin = round(MARGIN / (s_h * s_w2))
    return QuantMLP(w1, b1, mult1, shift1, w2, margin)


def hidden(q: QuantMLP, x_q: np.ndarray) -> np.ndarray:
    """MVM + POSTPROC(bias, per-channel requant, ReLU) and the constant column: (M, HIDDEN + 1) int8."""
    acc = quant.wrap32(x_q.astype(np.int64) @ q.w1.astype(np.int64))
    h = quant.postproc(acc, q.b1, q.mult1, q.shift1, lo=0, hi=127)
    return np.hstack([h, np.full((len(h), 1), BIAS_INPUT, dtype=np.int8)])


def logits(h_aug: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """The classifier MVM: int32 logits in the accumulator."""
    return quant.wrap32(h_aug.astype(np.int64) @ w2.astype(np.int64))


def predict(q: QuantMLP, x_q: np.ndarray) -> np.ndarray:
    """Predictions of the quantized network (ARGMAX of the logits), bit-exact with the firmware."""
    return quant.first_argmax(logits(hidden(q, x_q), q.w2))


def error_signal(z: np.ndarray, labels: np.ndarray, margin: int) -> np.ndarray:
    """Margin-perceptron error (int8, M x 10): +ERROR_STEP on the true class and -ERROR_STEP on the
    strongest wrong class (first maximum) of every sample whose margin is below ``margin``."""
    d = np.zeros(z.shape, dtype=np.int8)
    rows = np.arange(len(z))
    others = z.astype(np.int64).copy()
    others[rows, labels] = np.iinfo(np.int64).min
    rival = np.argmax(others, axis=1)
    wrong = z[rows, labels].astype(np.int64) - z[rows, rival] < margin
    d[rows[wrong], labels[wrong]] = ERROR_STEP
    d[rows[wrong], rival[wrong]] = -ERROR_STEP
    return d


def backprop(h_aug: np.ndarray, d: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """The hidden layer's int8 error, as the NPU computes it: MVM_T (d @ W2^T, the bias row dropped),
    POSTPROC to int8 (multiplier 2^30 = x 1/2, shift 1 - DELTA_SHIFT: / 2^DELTA_SHIFT rounded), and the ReLU
    derivative as ELTWISE MAX(h, h) clamped to [0, 1] times it (ELTWISE MUL)."""
    dh = quant.wrap32(d.astype(np.int64) @ w2.astype(np.int64).T)[:, :HIDDEN]
    dh8 = quant.postproc(dh, None, np.int64(IDENTITY_MULT), np.int64(1 - DELTA_SHIFT), -128, 127)
    mask = np.clip(quant.requantize(h_aug[:, :HIDDEN], IDENTITY_MULT, 1), 0, 1)
    return np.clip(quant.requantize(dh8.astype(np.int64) * mask, IDENTITY_MULT, 1), -128, 127).astype(np.int8)


def learning_set(data: Digits) -> tuple[np.ndarray, np.ndarray]:
    """Demo 2's training stream: every shifted training digit plus a rehearsal buffer of REHEARSAL
    original ones (without it the network forgets: 97% -> ~66% on original digits), shuffled with a
    fixed seed. Returns (int8 inputs, labels)."""
    rng = np.random.default_rng(REHEARSAL_SEED)
    keep = rng.choice(len(data.train_y), REHEARSAL, replace=False)
    x = np.concatenate([data.shifted_train_x, data.train_x[keep]])
    y = np.concatenate([data.train_y, data.train_y[keep]])
    order = rng.permutation(len(y))
    return quantize_input(x[order]), y[order].astype(np.int32)


def learn(q: QuantMLP, x_q: np.ndarray, labels: np.ndarray) -> QuantMLP:
    """Demo 2 in the firmware's order: per batch, forward with the current weights, error,
    back-propagation through the old classifier, then both WEIGHT_UPDATEs (shifts + LEARN_DECAY of
    the epoch). Returns the new model."""
    for epoch in range(LEARN_EPOCHS):
        for start in range(0, len(x_q), LEARN_BATCH):
            xb, yb = x_q[start:start + LEARN_BATCH], labels[start:start + LEARN_BATCH]
            h = hidden(q, xb)
            d = error_signal(logits(h, q.w2), yb, q.margin)
            delta = backprop(h, d, q.w2)
            q = replace(q, w2=quant.weight_update(q.w2, h, d, LEARN_SHIFT + LEARN_DECAY[epoch]),
                        w1=quant.weight_update(q.w1, xb, delta, LEARN_SHIFT_HIDDEN + LEARN_DECAY[epoch]))
    return q


def _digest() -> str:
    """Hash of the code that defines the model: a cache made by other code is stale."""
    here = Path(__file__).parent
    return hashlib.sha256(b"".join((here / f).read_bytes() for f in ("mlp.py", "quant.py"))).hexdigest()


def build(cache: Path) -> tuple[Digits, QuantMLP]:
    """The dataset and the quantized model, trained only when ``cache`` (an .npz) is missing or stale."""
    data = load_digits()
    digest = _digest()
    q = QuantMLP.load(cache, digest) if cache.exists() else None
    if q is None:
        q = quantize(train(data), data)
        cache.parent.mkdir(parents=True, exist_ok=True)
        q.save(cache, digest)
    return data, q


# Scratchpad plan (bytes): input rows, hidden rows (HIDDEN + constant column), error rows.
SPAD_INPUT = 0
SPAD_HIDDEN = 64 * BATCH
SPAD_ERROR = SPAD_HIDDEN + (HIDDEN + 1) * BATCH
SPAD_DH = SPAD_ERROR + CLASSES * BATCH  # back-propagated error, int8 (learning)
SPAD_MASK = SPAD_DH + HIDDEN * BATCH  # ReLU derivative, 0/1
SPAD_DELTA = SPAD_MASK + HIDDEN * BATCH  # hidden-layer error
SPAD_END = SPAD_DELTA + HIDDEN * BATCH


def tiles(geometry: layout.Geometry) -> list[int]:
    """First tiles of the hidden and classifier weight matrices."""
    return layout.place_weights([(64, HIDDEN), (HIDDEN + 1, CLASSES)], geometry)


def inference_counts(n_images: int) -> dict[str, int]:
    """The NPU counters one inference pass over ``n_images`` must show (firmware order: weights
    loaded once, then per batch DMA_IN x, MVM, POSTPROC, constant column, MVM, ARGMAX)."""
    k2 = HIDDEN + 1
    batches = -(-n_images // BATCH)
    weights = 64 * HIDDEN + k2 * CLASSES
    return {
        "macs": n_images * (64 * HIDDEN + k2 * CLASSES),
        "dma_in": weights + n_images * 64 + batches * HIDDEN * 12 + n_images,  # x, bias+quant, const
        "dma_out": n_images * 4,  # ARGMAX results
        "weight_bytes": weights,
        "commands": 2 + batches * 6,
    }


def emit_header(data: Digits, q: QuantMLP, path: Path) -> None:
    """The C header of Demo 1 and 2: weights, layer table, data sets, learning constants."""
    geometry = layout.Geometry.default()
    t1, t2 = tiles(geometry)
    learn_x, learn_y = learning_set(data)
    layout.check_buffers(SPAD_END, 4 * HIDDEN * BATCH, geometry)
    quant1 = np.stack([q.mult1, q.shift1], axis=1).astype(np.int32)
    consts = {
        "MODEL_INPUTS": 64, "MODEL_HIDDEN": HIDDEN, "MODEL_CLASSES": CLASSES, "MODEL_LAYERS": 2,
        "MODEL_BATCH": BATCH, "MODEL_HIDDEN_TILE": t1, "MODEL_CLASSIFIER_TILE": t2, "MODEL_CLASSIFIER_K": q.k2,
        "SPAD_INPUT": SPAD_INPUT, "SPAD_HIDDEN": SPAD_HIDDEN, "SPAD_ERROR": SPAD_ERROR,
        "SPAD_DH": SPAD_DH, "SPAD_MASK": SPAD_MASK, "SPAD_DELTA": SPAD_DELTA,
        "N_TEST": len(data.test_y), "N_LEARN": len(learn_y), "N_REHEARSAL": REHEARSAL,
        "LEARN_EPOCHS": LEARN_EPOCHS, "LEARN_BATCH": LEARN_BATCH, "LEARN_SHIFT": LEARN_SHIFT,
        "LEARN_SHIFT_HIDDEN": LEARN_SHIFT_HIDDEN, "DELTA_SHIFT": DELTA_SHIFT,
        "ERROR_STEP": ERROR_STEP, "MODEL_MARGIN": q.margin,
    }
    body = emit.defines(consts) + "\n"
    body += emit.c_array("model_w1", q.w1) + emit.c_array("model_b1", q.b1) + emit.c_array("model_q1", quant1)
    body += emit.c_array("model_w2", q.w2)
    body += f"static const int8_t model_bias_input = {BIAS_INPUT};\n\n"
    body += (
        "static const npu_dense_layer_t model_layers[MODEL_LAYERS] = {\n"
        f"    {{.tile = {t1}, .k = 64, .n = {HIDDEN}, .weights = &model_w1[0][0], .bias = model_b1,\n"
        f"     .quant = &model_q1[0][0], .act = NPU_ACT_RELU, .in_addr = SPAD_INPUT, .in_stride = 64,\n"
        f"     .out_addr = SPAD_HIDDEN, .out_stride = {HIDDEN + 1}}},\n"
        f"    {{.tile = {t2}, .k = {q.k2}, .n = {CLASSES}, .weights = &model_w2[0][0], .act = NPU_ACT_NONE,\n"
        f"     .in_addr = SPAD_HIDDEN, .in_stride = {HIDDEN + 1}, .const_input = &model_bias_input}},\n"
        "};\n\n"
    )
    body += emit.c_array("test_x", quantize_input(data.test_x)) + emit.c_array("test_y", data.test_y.astype(np.uint8))
    body += emit.c_array("learn_x", learn_x)
    body += emit.c_array("learn_y", learn_y.astype(np.uint8))
    body += emit.c_array("learn_decay", np.array(LEARN_DECAY, dtype=np.uint8))
    body += emit.c_array("shifted_test_x", quantize_input(data.shifted_test_x))
    doc = (f"Digits MLP 64-{HIDDEN}-{CLASSES} quantized to int8 for the NPU, {len(data.test_y)} held-out "
           f"digits, {len(data.train_y)} shifted training digits + {REHEARSAL} rehearsed originals (Demo 2).")
    emit.write(path, emit.header("NPU_DEMO_MODEL_H", doc, body))
