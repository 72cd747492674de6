"""Audio ops: WAV decoding and encoding, spectrograms and MFCCs (tf.audio, tf.raw_ops.Mfcc)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from savedmodel.ops._common import fail, shape_str, to_bytes
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory

# --------------------------------------------------------------------------- WAV


@kernel_factory("DecodeWav", family="audio", dtypes=("string",))
def _decode_wav(node: NodeSpec) -> Any:
    want_channels = int(node.attrs.get("desired_channels", -1))
    want_samples = int(node.attrs.get("desired_samples", -1))

    def run(ctx: Any, contents: np.ndarray) -> list[np.ndarray]:
        data = to_bytes(np.asarray(contents, dtype=object)[()])
        if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
            fail("Header mismatch: Expected RIFF/WAVE")
        pos, fmt, pcm = 12, None, None
        while pos + 8 <= len(data):
            cid, size = struct.unpack_from("<4sI", data, pos)
            body = data[pos + 8 : pos + 8 + size]
            if cid == b"fmt ":
                fmt = struct.unpack_from("<HHIIHH", body)
            elif cid == b"data":
                pcm = body
            pos += 8 + size + (size & 1)
        if fmt is None or pcm is None:
            fail("WAV data is missing its fmt or data chunk")
        audio_format, channels, rate, _, _, bits = fmt
        if audio_format != 1 or bits != 16:
            fail(f"Only 16-bit PCM WAV is supported, got format {audio_format} with {bits} bits")
        samples = np.frombuffer(pcm[: len(pcm) // (2 * channels) * 2 * channels], dtype="<i2")
        audio = samples.reshape(-1, channels).astype(np.float32) / np.float32(32768.0)
        if want_channels > 0 and want_channels != channels:
            audio = (
                np.repeat(audio[:, :1], want_channels, axis=1) if channels == 1 else audio[:, :want_channels]
            )
        if want_samples >= 0:
            if audio.shape[0] >= want_samples:
                audio = audio[:want_samples]
            else:
                audio = np.concatenate(
                    [audio, np.zeros((want_samples - audio.shape[0], audio.shape[1]), np.float32)]
                )
        return [np.ascontiguousarray(audio), np.array(rate, dtype=np.int32)]

    return run


@kernel("EncodeWav", family="audio", dtypes=("float32",))
def _encode_wav(ctx: Any, audio: np.ndarray, sample_rate: np.ndarray) -> np.ndarray:
    if audio.ndim != 2:
        fail(f"audio must be 2-D, got shape {shape_str(audio.shape)}")
    rate = int(np.asarray(sample_rate).reshape(-1)[0])
    samples, channels = audio.shape
    scaled = np.rint(audio.astype(np.float32) * np.float32(32768.0))
    pcm = np.clip(scaled, -32768, 32767).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
    return np.array(header + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm, dtype=object)


# --------------------------------------------------------------------------- spectrogram and MFCC


def _next_power_of_two(value: int) -> int:
    return 1 << max(0, (value - 1).bit_length())


@kernel_factory("AudioSpectrogram", family="audio", dtypes=("float32",))
def _audio_spectrogram(node: NodeSpec) -> Any:
    """Hann-windowed FFT power (or magnitude) per channel, as tensorflow/core/kernels/spectrogram.cc"""
    window_size = int(node.attrs["window_size"])
    stride = int(node.attrs["stride"])
    squared = bool(node.attrs.get("magnitude_squared", False))

    def run(ctx: Any, audio: Any) -> np.ndarray:
        audio = np.asarray(audio)
        if audio.ndim != 2:
            fail(f"input must be 2-dimensional{list(audio.shape)}".replace(" ", ""))
        if window_size < 2 or stride < 1:
            fail(f"Spectrogram initialization failed for window size {window_size} and stride {stride}")
        samples, channels = audio.shape
        fft_length = _next_power_of_two(window_size)
        bins = fft_length // 2 + 1
        frames = 0 if samples < window_size else 1 + (samples - window_size) // stride
        # periodic Hann window, in double
        window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(window_size) / window_size)
        out = np.zeros((channels, frames, bins), dtype=np.float32)
        if frames == 0:
            return out
        starts = np.arange(frames) * stride
        for c in range(channels):
            signal = audio[:, c].astype(np.float64)
            windows = signal[starts[:, None] + np.arange(window_size)[None, :]] * window
            spectrum = np.fft.rfft(windows, n=fft_length, axis=1)
            power = spectrum.real * spectrum.real + spectrum.imag * spectrum.imag
            out[c] = power if squared else np.sqrt(power)
        return out

    return run


def _freq_to_mel(freq: Any) -> Any:
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


@kernel_factory("Mfcc", family="audio", dtypes=("float32",))
def _mfcc(node: NodeSpec) -> Any:
    """mel-frequency cepstral coefficients of a power spectrogram, as tensorflow/core/kernels/mfcc*.cc"""
    upper = float(node.attrs.get("upper_frequency_limit", 4000.0))
    lower = float(node.attrs.get("lower_frequency_limit", 20.0))
    channels_count = int(node.attrs.get("filterbank_channel_count", 40))
    dct_count = int(node.attrs.get("dct_coefficient_count", 13))

    def filterbank(input_length: int, sample_rate: int) -> tuple[int, int, np.ndarray, np.ndarray] | None:
        if channels_count < 1 or sample_rate <= 0 or input_length < 2 or lower < 0 or upper <= lower:
            return None
        mel_low, mel_high = float(_freq_to_mel(lower)), float(_freq_to_mel(upper))
        spacing = (mel_high - mel_low) / float(channels_count + 1)
        centers = [mel_low + spacing * (i + 1) for i in range(channels_count + 1)]
        hz_per_bin = 0.5 * sample_rate / float(input_length - 1)
        start = int(1.5 + lower / hz_per_bin)
        end = int(upper / hz_per_bin)
        mapper = np.full(input_length, -2, dtype=np.int64)
        weights = np.zeros(input_length, dtype=np.float64)
        channel = 0
        for i in range(input_length):
            if i < start or i > end:
                continue
            melf = float(_freq_to_mel(i * hz_per_bin))
            while channel < channels_count and centers[channel] < melf:
                channel += 1
            band = channel - 1
            mapper[i] = band
            if band >= 0:
                weights[i] = (centers[band + 1] - melf) / (centers[band + 1] - centers[band])
            else:
                weights[i] = (centers[0] - melf) / (centers[0] - mel_low)
        return start, end, mapper, weights

    def dct_matrix() -> np.ndarray | None:
        if dct_count < 1 or channels_count < 1 or dct_count > channels_count:
            return None
        fnorm = np.sqrt(2.0 / channels_count)
        arg = np.pi / channels_count
        i = np.arange(dct_count, dtype=np.float64)[:, None]
        j = np.arange(channels_count, dtype=np.float64)[None, :]
        return fnorm * np.cos(i * arg * (j + 0.5))

    def run(ctx: Any, spectrogram: Any, sample_rate: Any) -> np.ndarray:
        spectrogram, sample_rate = np.asarray(spectrogram), np.asarray(sample_rate)
        if spectrogram.ndim != 3:
            fail(f"spectrogram must be 3-dimensional{list(spectrogram.shape)}".replace(" ", ""))
        if sample_rate.ndim != 0:
            fail(f"Input sample_rate should be a scalar tensor, got {list(sample_rate.shape)} instead.")
        rate = int(sample_rate)
        audio_channels, frames, bins = spectrogram.shape
        bank = filterbank(bins, rate)
        dct = dct_matrix() if bank is not None else None
        if bank is None or dct is None:
            fail(
                f"Mfcc initialization failed for channel count {bins}, sample rate {rate} and "
                f"filterbank_channel_count {channels_count}"
            )
        start, end, mapper, weights = bank
        if bins <= end:
            fail("Input too short to compute filterbank")
        spec = spectrogram.astype(np.float64).reshape(audio_channels * frames, bins)
        bank_out = np.zeros((audio_channels * frames, channels_count), dtype=np.float64)
        for i in range(start, end + 1):  # every frame at once, bins added in TensorFlow's order
            value = np.sqrt(spec[:, i])
            weighted = value * weights[i]
            band = int(mapper[i])
            if band >= 0:
                bank_out[:, band] += weighted
            if band + 1 < channels_count:
                bank_out[:, band + 1] += value - weighted
        logs = np.log(np.maximum(bank_out, 1e-12))
        out = np.einsum("kj,nj->nk", dct, logs) if logs.size else np.zeros((0, dct_count))
        return out.astype(np.float32).reshape(audio_channels, frames, dct_count)

    return run
