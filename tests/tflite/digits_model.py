"""The fifth model: a small int8 CNN on scikit-learn's 8x8 digits, built at test time.

conv 3x3 / stride 2 / SAME / ReLU6 -> depthwise 3x3 / SAME / ReLU6 -> ADD (residual) -> conv 1x1 /
ReLU -> max pool 2x2 -> reshape -> fully connected -> softmax. The convolutions are random
features (He initialization, seeded); the classifier on top is trained with numpy (softmax
regression, full-batch gradient descent). Quantization as TFLite's converter does it: activations
asymmetric int8 from calibration ranges, conv weights symmetric per channel, FC weights per tensor,
int32 biases at input scale x weight scale.
"""

from __future__ import annotations

import numpy as np
from tflite_writer import OPS, OPTS, TYPES, ModelWriter


def _pad(in_size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-in_size // s)
    total = max(0, (out - 1) * s + k - in_size)
    return out, total // 2


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, same: bool) -> np.ndarray:
    """x [B,H,W,C], w [N,kh,kw,C] -> [B,OH,OW,N] (TFLite SAME/VALID padding)."""
    bsz, h, wd, _ = x.shape
    n, kh, kw, _ = w.shape
    if same:
        oh, pt = _pad(h, kh, stride)
        ow, pl = _pad(wd, kw, stride)
    else:
        oh, ow, pt, pl = (h - kh) // stride + 1, (wd - kw) // stride + 1, 0, 0
    xp = np.zeros((bsz, h + 2 * kh, wd + 2 * kw, x.shape[3]), dtype=np.float64)
    xp[:, kh : kh + h, kw : kw + wd] = x
    out = np.zeros((bsz, oh, ow, n))
    for ky in range(kh):
        for kx in range(kw):
            ys = kh + ky - pt
            xs = kw + kx - pl
            patch = xp[:, ys : ys + (oh - 1) * stride + 1 : stride, xs : xs + (ow - 1) * stride + 1 : stride]
            out += patch @ w[:, ky, kx, :].T
    return out + b


def depthwise(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Stride 1 SAME depthwise: x [B,H,W,C], w [1,kh,kw,C]."""
    _, h, wd, _ = x.shape
    _, kh, kw, _ = w.shape
    pt, pl = (kh - 1) // 2, (kw - 1) // 2
    xp = np.zeros((x.shape[0], h + kh - 1, wd + kw - 1, x.shape[3]))
    xp[:, pt : pt + h, pl : pl + wd] = x
    out = np.zeros_like(x, dtype=np.float64)
    for ky in range(kh):
        for kx in range(kw):
            out += xp[:, ky : ky + h, kx : kx + wd] * w[0, ky, kx]
    return out + b


def _act_q(t: np.ndarray) -> tuple[float, int]:
    """Asymmetric int8 (scale, zero point) covering the calibration range and 0."""
    lo, hi = min(0.0, float(t.min())), max(0.0, float(t.max()))
    scale = (hi - lo) / 255 or 1.0
    zp = int(np.clip(round(-128 - lo / scale), -128, 127))
    return float(np.float32(scale)), zp


def _w_q(w: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 weights, per channel along ``axis`` (None: per tensor)."""
    if axis is None:
        scale = np.array([max(np.abs(w).max(), 1e-8) / 127], dtype=np.float32)
        return np.clip(np.round(w / scale[0]), -127, 127).astype(np.int8), scale
    red = tuple(i for i in range(w.ndim) if i != axis)
    scale = (np.maximum(np.abs(w).max(axis=red), 1e-8) / 127).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    return np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8), scale


def build(seed: int = 7) -> tuple[bytes, np.ndarray, np.ndarray, float]:
    """(tflite bytes, held-out int8 inputs [n,1,8,8,1], their labels, float accuracy on them)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0)[..., None]
    y = digits.target
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    train, test = order[:1400], order[1400:]
    w1 = rng.normal(0, np.sqrt(2 / 9), (8, 3, 3, 1))
    b1 = rng.normal(0, 0.1, 8)
    wd = rng.normal(0, np.sqrt(2 / 9), (1, 3, 3, 8))
    bd = rng.normal(0, 0.1, 8)
    w2 = rng.normal(0, np.sqrt(2 / 8), (16, 1, 1, 8))
    b2 = rng.normal(0, 0.1, 16)

    def features(xs: np.ndarray) -> list[np.ndarray]:
        c1 = np.clip(conv(xs, w1, b1, 2, True), 0, 6)
        dw = np.clip(depthwise(c1, wd, bd), 0, 6)
        add = c1 + dw
        c2 = np.maximum(conv(add, w2, b2, 1, False), 0)
        mp = c2.reshape(-1, 2, 2, 2, 2, 16).max(axis=(2, 4))
        return [c1, dw, add, c2, mp]

    feats = features(x)
    flat = feats[-1].reshape(len(x), -1)
    norm = flat[train].std() or 1.0  # train on normalized features, fold the scale into the weights
    wf = np.zeros((64, 10))
    bf = np.zeros(10)
    onehot = np.eye(10)[y]
    for _ in range(600):  # softmax regression on the training split
        z = flat[train] / norm @ wf + bf
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot[train]) / len(train)
        wf -= 1.0 * (flat[train] / norm).T @ g
        bf -= 1.0 * g.sum(axis=0)
    wf /= norm
    logits = flat @ wf + bf
    accuracy = float((logits[test].argmax(axis=1) == y[test]).mean())

    w = ModelWriter()
    s_in, z_in = 1 / 255, -128
    q = [_act_q(t[train]) for t in feats] + [_act_q(logits[train])]
    (s1, z1), (sd, zd), (sa, za), (s2, z2), _, (sf, zf) = q
    t_in = w.tensor("input", (1, 8, 8, 1), scale=s_in, zero_point=z_in)

    def conv_tensors(name: str, wt: np.ndarray, bias: np.ndarray, s_x: float, axis: int) -> tuple[int, int]:
        wq, ws = _w_q(wt, axis)
        t_w = w.tensor(f"{name}/w", wt.shape, scale=ws, zero_point=np.zeros(len(ws), np.int64), data=wq,
                       qdim=axis)
        bs = (np.float32(s_x) * ws).astype(np.float32)
        bq = np.round(bias / bs.astype(np.float64)).astype(np.int32)
        t_b = w.tensor(f"{name}/b", (len(bias),), TYPES.INT32, scale=bs, zero_point=np.zeros(len(bs), np.int64),
                       data=bq)
        return t_w, t_b

    t_c1 = w.tensor("conv1", (1, 4, 4, 8), scale=s1, zero_point=z1)
    cw, cb = conv_tensors("conv1", w1, b1, s_in, 0)
    w.op(OPS.CONV_2D, [t_in, cw, cb], [t_c1], OPTS.Conv2DOptions, Padding=0, StrideW=2, StrideH=2,
         FusedActivationFunction=3)
    t_dw = w.tensor("dw", (1, 4, 4, 8), scale=sd, zero_point=zd)
    dwq, dwb = conv_tensors("dw", wd, bd, s1, 3)
    w.op(OPS.DEPTHWISE_CONV_2D, [t_c1, dwq, dwb], [t_dw], OPTS.DepthwiseConv2DOptions, Padding=0, StrideW=1,
         StrideH=1, DepthMultiplier=1, FusedActivationFunction=3)
    t_add = w.tensor("add", (1, 4, 4, 8), scale=sa, zero_point=za)
    w.op(OPS.ADD, [t_c1, t_dw], [t_add], OPTS.AddOptions, FusedActivationFunction=0)
    t_c2 = w.tensor("conv2", (1, 4, 4, 16), scale=s2, zero_point=z2)
    c2w, c2b = conv_tensors("conv2", w2, b2, sa, 0)
    w.op(OPS.CONV_2D, [t_add, c2w, c2b], [t_c2], OPTS.Conv2DOptions, Padding=1, StrideW=1, StrideH=1,
         FusedActivationFunction=1)
    t_mp = w.tensor("pool", (1, 2, 2, 16), scale=s2, zero_point=z2)
    w.op(OPS.MAX_POOL_2D, [t_c2], [t_mp], OPTS.Pool2DOptions, Padding=1, StrideW=2, StrideH=2, FilterWidth=2,
         FilterHeight=2, FusedActivationFunction=0)
    t_shape = w.tensor("shape", (2,), TYPES.INT32, data=np.array([1, 64], dtype=np.int32))
    t_flat = w.tensor("flat", (1, 64), scale=s2, zero_point=z2)
    w.op(OPS.RESHAPE, [t_mp, t_shape], [t_flat])
    fq, fs = _w_q(wf.T, None)
    t_fw = w.tensor("fc/w", (10, 64), scale=fs, zero_point=0, data=fq)
    fbs = np.float32(np.float32(s2) * fs[0])
    t_fb = w.tensor("fc/b", (10,), TYPES.INT32, scale=fbs, zero_point=0,
                    data=np.round(bf / float(fbs)).astype(np.int32))
    t_fc = w.tensor("logits", (1, 10), scale=sf, zero_point=zf)
    w.op(OPS.FULLY_CONNECTED, [t_flat, t_fw, t_fb], [t_fc], OPTS.FullyConnectedOptions, FusedActivationFunction=0)
    t_out = w.tensor("probs", (1, 10), scale=1 / 256, zero_point=-128)
    w.op(OPS.SOFTMAX, [t_fc], [t_out], OPTS.SoftmaxOptions, Beta=1.0)
    model = w.build([t_in], [t_out])
    inputs = np.clip(np.round(x[test] / s_in) + z_in, -128, 127).astype(np.int8).reshape(-1, 1, 8, 8, 1)
    return model, inputs, y[test], accuracy
