"""Demo 3: a small CNN on the 8x8 digits -- conv 3x3 (16 channels, ReLU), 2x2 max-pool, dense 10.

On the NPU the whole batch is one long row of 64-byte images, so im2col is three DMAs per batch
(one per kernel row: overlapping source rows 1 byte apart, 3 bytes each, into 9-byte patch rows)
and the convolution is one GEMM over *every* pixel position, 8 x 8 per image. Positions in
columns/rows 6-7 read across the image edge (into the next image): they are garbage, but a 2x2
max-pool with stride 2 never mixes them with valid ones, and the dense weights of the pooled
row/column 3 are zero, so they cannot reach a logit. This trades 9216 instead of 5184 conv MACs
per image for 3 DMAs per batch instead of 18 per image. The reference below computes only the
valid part, which is what the zero weights make the firmware compute.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from npu_model import emit, layout, mlp, quant

CHANNELS = 16
CLASSES = 10
POOLED = 4  # pooled map side on the NPU (3 valid + 1 garbage)
DENSE_K = POOLED * POOLED * CHANNELS  # 256: one tile's rows
BATCH = 32  # images per NPU pass: the conv accumulator is BATCH * 64 * CHANNELS * 4 bytes
EPOCHS = 20
LEARNING_RATE = 3e-3


def im2col_valid(x: np.ndarray) -> np.ndarray:
    """(n, 64) images -> (n, 36, 9) patches of the 6 x 6 valid positions, kernel row-major."""
    img = x.reshape(-1, 8, 8)
    cols = [img[:, ky:ky + 6, kx:kx + 6] for ky in range(3) for kx in range(3)]
    return np.stack(cols, axis=-1).reshape(len(x), 36, 9)


def maxpool(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 6, 6, c) -> (n, 3, 3, c) and the argmax mask for back-propagation."""
    n, _, _, c = a.shape
    win = a.reshape(n, 3, 2, 3, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, 3, 3, c, 4)
    idx = win.argmax(axis=-1)
    return np.take_along_axis(win, idx[..., None], axis=-1)[..., 0], idx


@dataclass(frozen=True)
class FloatCNN:
    wc: np.ndarray  # (9, CHANNELS)
    bc: np.ndarray
    wd: np.ndarray  # (3 * 3 * CHANNELS, CLASSES), HWC flatten
    bd: np.ndarray


def _forward(p: dict[str, np.ndarray], cols: np.ndarray) -> tuple[np.ndarray, ...]:
    conv = cols @ p["wc"] + p["bc"]  # (n, 36, c)
    relu = np.maximum(conv, 0).reshape(-1, 6, 6, CHANNELS)
    pooled, idx = maxpool(relu)
    flat = pooled.reshape(len(cols), -1)
    return conv, idx, flat, flat @ p["wd"] + p["bd"]


def train(data: mlp.Digits) -> FloatCNN:
    """Adam on softmax cross-entropy, numpy only, fixed seed: deterministic, a few seconds."""
    rng = np.random.default_rng(mlp.SEED)
    p = {"wc": rng.normal(0, np.sqrt(2 / 9), (9, CHANNELS)), "bc": np.zeros(CHANNELS),
         "wd": rng.normal(0, np.sqrt(1 / (9 * CHANNELS)), (9 * CHANNELS, CLASSES)), "bd": np.zeros(CLASSES)}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    cols_all = im2col_valid(data.train_x / 16.0)
    step = 0
    for _ in range(EPOCHS):
        order = rng.permutation(len(cols_all))
        for start in range(0, len(order), 32):
            b = order[start:start + 32]
            cols, y = cols_all[b], data.train_y[b]
            conv, idx, flat, z = _forward(p, cols)
            prob = np.exp(z - z.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
            prob[np.arange(len(b)), y] -= 1
            dz = prob / len(b)
            g = {"wd": flat.T @ dz, "bd": dz.sum(axis=0)}
            dpool = (dz @ p["wd"].T).reshape(len(b), 3, 3, CHANNELS)
            dwin = np.zeros((len(b), 3, 3, CHANNELS, 4))
            np.put_along_axis(dwin, idx[..., None], dpool[..., None], axis=-1)
            drelu = dwin.reshape(len(b), 3, 3, CHANNELS, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(len(b), 36, CHANNELS)
            dconv = drelu * (conv > 0)
            g["wc"] = np.einsum("npk,npc->kc", cols, dconv)
            g["bc"] = dconv.sum(axis=(0, 1))
            step += 1
            for k in p:
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                v[k] = 0.999 * v[k] + 0.001 * g[k] ** 2
                p[k] -= LEARNING_RATE * (m[k] / (1 - 0.9**step)) / (np.sqrt(v[k] / (1 - 0.999**step)) + 1e-8)
    return FloatCNN(p["wc"], p["bc"], p["wd"], p["bd"])


@dataclass(frozen=True)
class QuantCNN:
    """The int8 CNN as the firmware runs it."""

    wc: np.ndarray  # (9, CHANNELS) int8, per-channel
    bc: np.ndarray  # (CHANNELS,) int32
    quant_c: np.ndarray  # (CHANNELS, 2) int32 {multiplier, shift}
    wd: np.ndarray  # (DENSE_K, CLASSES) int8 over the 4 x 4 x C pooled map; zero rows for garbage
    bd: np.ndarray  # (CLASSES,) int32, preloaded into the accumulator

    def save(self, path: Path, digest: str) -> None:
        np.savez(path, digest=np.array(digest), **asdict(self))

    @classmethod
    def load(cls, path: Path, digest: str) -> QuantCNN | None:
        with np.load(path) as z:
            if str(z["digest"]) != digest:
                return None
            return cls(**{k: z[k] for k in z.files if k != "digest"})


def quantize(model: FloatCNN, data: mlp.Digits) -> QuantCNN:
    """Per-channel conv weights with calibrated activation scale; per-tensor dense (argmax on int32)."""
    s_x = 1.0 / 127.0
    s_wc = np.maximum(np.abs(model.wc).max(axis=0), 1e-8) / 127.0
    wc = np.clip(np.round(model.wc / s_wc), -127, 127).astype(np.int8)
    bc = np.round(model.bc / (s_x * s_wc)).astype(np.int32)
    act = np.maximum(im2col_valid(data.train_x / 16.0) @ model.wc + model.bc, 0)
    s_a = float(np.percentile(act, mlp.CALIBRATION_PERCENTILE)) / 127.0
    pairs = [quant.quantize_multiplier(float(s_x * s / s_a)) for s in s_wc]
    s_wd = float(np.abs(model.wd).max()) / 127.0
    wd_valid = np.clip(np.round(model.wd / s_wd), -127, 127).astype(np.int8).reshape(3, 3, CHANNELS, CLASSES)
    wd = np.zeros((POOLED, POOLED, CHANNELS, CLASSES), dtype=np.int8)
    wd[:3, :3] = wd_valid
    bd = np.round(model.bd / (s_a * s_wd)).astype(np.int32)
    return QuantCNN(wc, bc, np.array(pairs, dtype=np.int32), wd.reshape(DENSE_K, CLASSES), bd)


def predict(q: QuantCNN, x_q: np.ndarray) -> np.ndarray:
    """The firmware's predictions: conv GEMM, POSTPROC (ReLU), max-pool, dense + bias, ARGMAX."""
    acc = quant.wrap32(im2col_valid(x_q.astype(np.int64)) @ q.wc.astype(np.int64))
    a = quant.postproc(acc, q.bc, q.quant_c[:, 0], q.quant_c[:, 1], lo=0, hi=127).reshape(-1, 6, 6, CHANNELS)
    pooled, _ = maxpool(a)
    full = np.zeros((len(x_q), POOLED, POOLED, CHANNELS), dtype=np.int64)
    full[:, :3, :3] = pooled
    logits = quant.wrap32(q.bd.astype(np.int64) + full.reshape(len(x_q), -1) @ q.wd.astype(np.int64))
    return quant.first_argmax(logits)


def inference_counts(n_images: int) -> dict[str, int]:
    """NPU counters of one pass over ``n_images`` (weights loaded once; per batch 3 im2col DMAs, conv
    MVM, POSTPROC, POOL, bias DMA into the accumulator, dense MVM, ARGMAX)."""
    batches = -(-n_images // BATCH)
    weights = 9 * CHANNELS + DENSE_K * CLASSES
    return {
        "macs": n_images * (64 * 9 * CHANNELS + DENSE_K * CLASSES),
        "dma_in": weights + n_images * 64 * 3 * 3 + batches * CHANNELS * 12 + n_images * CLASSES * 4,
        "dma_out": n_images * 4,
        "weight_bytes": weights,
        "commands": 2 + batches * 9,
    }


def _digest() -> str:
    here = Path(__file__).parent
    return hashlib.sha256(b"".join((here / f).read_bytes() for f in ("cnn.py", "mlp.py", "quant.py"))).hexdigest()


def build(cache: Path) -> tuple[mlp.Digits, QuantCNN]:
    """The dataset and the quantized CNN, trained only when ``cache`` is missing or stale."""
    data = mlp.load_digits()
    q = QuantCNN.load(cache, _digest()) if cache.exists() else None
    if q is None:
        q = quantize(train(data), data)
        cache.parent.mkdir(parents=True, exist_ok=True)
        q.save(cache, _digest())
    return data, q


def emit_header(data: mlp.Digits, q: QuantCNN, path: Path) -> None:
    """The C header of Demo 3: weights, quantization, spad plan, test images (+1 padding image)."""
    geometry = layout.Geometry.default()
    t_conv, t_dense = layout.place_weights([(9, CHANNELS), (DENSE_K, CLASSES)], geometry)
    spad_cols, spad_conv = 0, BATCH * 64 * 9
    spad_pool = spad_conv + BATCH * 64 * CHANNELS
    layout.check_buffers(spad_pool + BATCH * DENSE_K, BATCH * 64 * CHANNELS * 4, geometry)
    consts = {"CNN_CHANNELS": CHANNELS, "CNN_CLASSES": CLASSES, "CNN_DENSE_K": DENSE_K, "CNN_BATCH": BATCH,
              "CNN_CONV_TILE": t_conv, "CNN_DENSE_TILE": t_dense, "SPAD_COLS": spad_cols,
              "SPAD_CONV": spad_conv, "SPAD_POOL": spad_pool, "N_TEST": len(data.test_y)}
    # one zero image after the last: the im2col of the last image reads up to 18 bytes past it
    images = np.vstack([mlp.quantize_input(data.test_x), np.zeros((1, 64), dtype=np.int8)])
    body = emit.defines(consts) + "\n"
    body += emit.c_array("cnn_wc", q.wc) + emit.c_array("cnn_bc", q.bc) + emit.c_array("cnn_qc", q.quant_c)
    body += emit.c_array("cnn_wd", q.wd) + emit.c_array("cnn_bd", q.bd)
    body += emit.c_array("test_x", images) + emit.c_array("test_y", data.test_y.astype(np.uint8))
    doc = f"Digits CNN conv3x3x{CHANNELS}-maxpool2-dense{CLASSES} quantized to int8 for the NPU."
    emit.write(path, emit.header("NPU_CNN_MODEL_H", doc, body))
