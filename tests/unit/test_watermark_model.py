"""models.watermark: tiny-config checks (no artifact needed) plus a smoke test of the shipped artifact."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from models.watermark import FrameScore, MediaScore, WatermarkDetector, load
from models.watermark import detector as W
from models.watermark.config import WatermarkConfig
from models.watermark.detector import ARTIFACT_DIR, save
from models.watermark.ocr import TextVerifier, match_platform
from models.watermark.net import WatermarkNet
from service.frames import SampledFrames, sample_frames

TINY = WatermarkConfig(input_size=(64, 64), stem_channels=8, stage_channels=(8, 16), blocks_per_stage=1, version="tiny")
RNG = np.random.default_rng(0)
FRAMES = RNG.integers(0, 256, (5, 48, 80, 3), dtype=np.uint8)  # not the input size: the detector resizes


@pytest.fixture(scope="module")
def tiny() -> WatermarkDetector:
    torch.manual_seed(0)
    return WatermarkDetector(WatermarkNet(TINY))


def test_forward_shapes_and_no_nan():
    net = WatermarkNet(TINY).eval()
    frame_logits, cell_logits = net(torch.rand(2, 3, 64, 64))
    assert frame_logits.shape == (2, 3)
    assert cell_logits.shape == (2, 3, 64 // TINY.stride, 64 // TINY.stride)
    assert torch.isfinite(frame_logits).all() and torch.isfinite(cell_logits).all()


def test_folded_network_gives_the_same_outputs_and_leaves_the_network_alone():
    """The detector scores with a copy whose batch norms are folded into the convolutions (`WatermarkNet.folded`):
    the same probabilities to float rounding, while the network it was given keeps its layers and its state_dict
    (what `save` writes)."""
    torch.manual_seed(1)
    net = WatermarkNet(TINY)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # statistics like a trained network's, so folding changes weights
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.5, 0.5)
    keys = set(net.state_dict())
    folded = net.eval().folded()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x = WatermarkDetector._to_input(FRAMES, TINY.input_size)
    with torch.inference_mode():
        want, got = net(x), folded(x)
    for a, b in zip(want, got):
        assert torch.allclose(a, b, atol=1e-4) and not torch.equal(a, torch.zeros_like(a))
    det = WatermarkDetector(net)
    probs, cells = det.predict_arrays(FRAMES)
    np.testing.assert_allclose(probs, want[0].softmax(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(cells, want[1].softmax(1).numpy(), atol=1e-5)
    assert det.net is net and set(net.state_dict()) == keys
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())


def test_score_frames_output(tiny):
    scores = tiny.score_frames(FRAMES)
    assert len(scores) == len(FRAMES) and all(isinstance(s, FrameScore) for s in scores)
    for s in scores:
        assert set(s.probs) == set(TINY.classes) and abs(sum(s.probs.values()) - 1) < 1e-4
        assert s.platform in TINY.classes
        assert (s.box is None) == (s.platform == "none")
        if s.box is not None:
            assert all(0 <= v <= 1 for v in s.box) and s.box[0] + s.box[2] <= 1 + 1e-6


def test_empty_batch(tiny):
    assert tiny.score_frames(np.zeros((0, 64, 64, 3), np.uint8)) == []
    empty = SampledFrames(np.zeros((0, 64, 64, 3), np.uint8), np.zeros(0), 0.0)
    assert tiny.score_media(empty) == MediaScore(0.0, "none", ())


def test_batch_equals_per_item(tiny):
    batch = tiny.score_frames(FRAMES)
    single = [tiny.score_frames(FRAMES[i: i + 1])[0] for i in range(len(FRAMES))]
    for a, b in zip(batch, single):
        assert a.platform == b.platform
        assert all(abs(a.probs[k] - b.probs[k]) < 1e-4 for k in a.probs)


def test_deterministic(tiny):
    assert tiny.score_frames(FRAMES) == tiny.score_frames(FRAMES)


def test_save_load_round_trip(tiny, tmp_path):
    save(tiny.net, tmp_path)
    again = load(tmp_path)
    assert again.config == tiny.config and again.version == "tiny"
    a, b = tiny.predict_arrays(FRAMES), again.predict_arrays(FRAMES)
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)


def test_input_validation(tiny):
    with pytest.raises(TypeError, match="expected a uint8 numpy array, got ndarray float32"):
        tiny.score_frames(FRAMES.astype(np.float32))
    with pytest.raises(ValueError, match=r"expected shape \(N, H, W, 3\), got \(48, 80, 3\)"):
        tiny.score_frames(FRAMES[0])


def test_load_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.safetensors not found.*make train-watermark"):
        load(tmp_path)


def test_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"classes": ["none", "tiktok"], "colour": 3}')
    with pytest.raises(ValueError, match=r"unknown config keys \['colour'\]"):
        WatermarkConfig.from_json(path)
    with pytest.raises(ValueError, match="expected 'none' first"):
        replace(TINY, classes=("tiktok", "none"))


class FixedProbs(WatermarkDetector):
    """Frame probabilities set by the test, to check the per-media decision rule alone."""

    def __init__(self, probs: np.ndarray) -> None:
        super().__init__(WatermarkNet(TINY))
        self.fixed = np.asarray(probs, np.float32)

    def predict_arrays(self, frames):
        cells = np.zeros((len(frames), 3, 4, 4), np.float32)
        cells[:, :, 0, 0] = 1.0
        return self.fixed, cells


def media(n: int) -> SampledFrames:
    return SampledFrames(np.zeros((n, 64, 64, 3), np.uint8), np.arange(n, dtype=float), float(n))


def test_one_odd_frame_does_not_flag_a_video():
    probs = [[0.9, 0.05, 0.05]] * 5 + [[0.01, 0.98, 0.01]]
    assert FixedProbs(probs).score_media(media(6)).probability < 0.1


def test_two_frames_flag_a_video_with_evidence():
    probs = [[0.9, 0.05, 0.05]] * 4 + [[0.05, 0.9, 0.05], [0.02, 0.97, 0.01]]
    result = FixedProbs(probs).score_media(media(6))
    assert result.platform == "tiktok" and result.probability == pytest.approx(0.9)
    assert result.evidence[0]["time_s"] == 5.0 and result.evidence[0]["platform"] == "tiktok"
    assert result.evidence[0]["box"] == [0.0, 0.0, 0.25, 0.25]
    assert all(type(v) is float for v in result.evidence[0]["box"])  # plain floats: the verdict is JSON


def test_single_image_uses_its_frame():
    result = FixedProbs([[0.1, 0.1, 0.8]]).score_media(media(1))
    assert result.platform == "youtube" and result.probability == pytest.approx(0.8)


# --- OCR cascade ------------------------------------------------------------------------
@pytest.mark.parametrize("texts, platform", [
    (["TikTok"], "tiktok"), (["TikTak"], "tiktok"), (["Tik Tok", "@cooking.daily"], "tiktok"), (["T1kT0k"], "tiktok"),
    (["@iheartwomennn", "TikTok"], "tiktok"), (["YouTube"], "youtube"), (["YouTuhe"], "youtube"), (["Shorts"], "youtube"),
    (["Sports"], None), (["Ehorts"], None), (["@cooking.daily"], None), (["the best day ever"], None), ([], None),
    (["TIK"], None), (["LIVE", "NEWS"], None),
    (["YauTuhe"], "youtube"), (["Yau'Tuhe", "@k.rg"], "youtube"), (["Couture"], None), (["you turned"], None),
    (["Yuulubes"], None),
])
def test_match_platform(texts, platform):
    assert match_platform(texts) == platform


class StubVerifier:
    """Reads a fixed platform name (or nothing) in every frame; counts the passes."""

    def __init__(self, platform):
        self.platform, self.calls = platform, 0

    def platform_in(self, image, box=None, **options):
        self.calls += 1
        return self.platform


def cascade(probs, platform) -> tuple[MediaScore, StubVerifier]:
    det = FixedProbs(probs)
    det.verifier = StubVerifier(platform)
    return det.score_media(media(len(probs))), det.verifier


def test_cascade_confirms_one_read_frame():
    result, v = cascade([[0.9, 0.05, 0.05]] * 5 + [[0.3, 0.6, 0.1]], "tiktok")
    assert result.probability == W.CONFIRMED_PROB and result.platform == "tiktok" and v.calls == 1
    assert result.evidence[0]["time_s"] == 5.0 and result.evidence[0]["score"] == W.CONFIRMED_PROB


def test_cascade_unread_lowers_cnn_score_within_budget():
    probs = [[0.1, 0.85, 0.05]] * 6
    result, v = cascade(probs, None)
    assert v.calls == W.MAX_OCR_CALLS
    assert result.probability == pytest.approx(W.UNREAD_SCALE["tiktok"] * 0.85, abs=1e-6) and result.platform == "tiktok"


def test_cascade_skips_ocr_when_nothing_is_proposed():
    result, v = cascade([[0.95, 0.03, 0.02]] * 6, "tiktok")
    assert v.calls == 0 and result == MediaScore(0.03, "none", ())


# --- crop classifier (second stage) --------------------------------------------------------
class FixedCropNet(torch.nn.Module):
    """Stands in for the crop classifier: every crop gets the class probabilities set by the test."""

    def __init__(self, probs) -> None:
        super().__init__()
        self.config = replace(TINY, input_size=(32, 32))
        self.logits = torch.log(torch.tensor(probs, dtype=torch.float32))
        self.seen = []

    def forward(self, x):
        self.seen.append(tuple(x.shape))
        return self.logits.expand(len(x), -1), torch.zeros(len(x), 3, 1, 1)


class SmallMarkProbs(FixedProbs):
    """FixedProbs whose cells show one small mark-like group, the bottom-right cell of a 4x4 grid."""

    def predict_arrays(self, frames):
        cells = np.zeros((len(frames), 3, 4, 4), np.float32)
        cells[:, 0] = 1.0
        cells[:, 0, 3, 3], cells[:, 1:, 3, 3] = 0.0, 0.5
        return self.fixed, cells


def crop_stage(frame_probs, crop_probs, platform="none") -> tuple[MediaScore, StubVerifier | None, FixedCropNet]:
    det = SmallMarkProbs(frame_probs)
    det.crop_net = FixedCropNet(crop_probs)
    det.verifier = StubVerifier(platform) if platform != "none" else None
    return det.score_media(media(len(frame_probs))), det.verifier, det.crop_net


def test_crop_stage_takes_the_smaller_of_frame_and_crop_probability():
    result, _, net = crop_stage([[0.05, 0.05, 0.9]], [0.3, 0.1, 0.6])
    assert result.platform == "youtube" and result.probability == pytest.approx(0.6, abs=1e-5)
    assert net.seen == [(1, 3, 32, 32)]  # one proposed frame, one group of mark-like cells
    assert result.evidence[0]["box"] == [0.75, 0.75, 0.25, 0.25] and result.evidence[0]["score"] == pytest.approx(0.6, abs=1e-4)
    result, _, _ = crop_stage([[0.35, 0.05, 0.6]], [0.02, 0.01, 0.97])
    assert result.probability == pytest.approx(0.6, abs=1e-5)  # a confident crop cannot exceed the frame CNN


def test_crop_stage_sees_only_proposed_frames():
    faint = (1.0 - W.CROP_PROPOSE_PROB) + 0.01
    result, _, net = crop_stage([[faint, 0.005, 0.005]] * 3, [0.0, 0.0, 1.0])
    assert net.seen == [] and result.probability == pytest.approx(0.005)  # nothing proposed: the frame CNN decides
    result, _, net = crop_stage([[0.9, 0.05, 0.05]] * 2, [0.0, 0.0, 1.0])
    assert len(net.seen) == 1 and result.probability == pytest.approx(0.05)  # under PROPOSE_PROB, still cropped


def test_crop_stage_ocr_confirms_or_rescales():
    result, v, _ = crop_stage([[0.05, 0.05, 0.9]], [0.3, 0.1, 0.6], platform="youtube")
    assert result.probability == W.CONFIRMED_PROB and v.calls == 1 and result.evidence[0]["box"] == [0.75, 0.75, 0.25, 0.25]
    result, v, _ = crop_stage([[0.05, 0.05, 0.9]], [0.3, 0.1, 0.6], platform=None)
    assert v.calls == 2  # the crop, the whole frame (P(any mark) >= WHOLE_FRAME_PROB); anchors under ANCHOR_READ_PROB
    assert result.probability == pytest.approx(W.UNREAD_SCALE["youtube"] * 0.6, abs=1e-5)
    result, v, _ = crop_stage([[0.05, 0.05, 0.9]], [0.05, 0.2, 0.75], platform=None)
    assert v.calls == 2 + W.ANCHOR_READS  # the crop, the whole frame, then the strongest anchor window
    assert result.probability == pytest.approx(W.UNREAD_SCALE["youtube"] * 0.75, abs=1e-5)  # unread anchors change nothing


def test_a_clip_steady_in_frames_and_crops_keeps_its_score_unread():
    """Unread (OCR finds no name), a clip whose frame CNN and crops both reach STEADY_PROB keeps min(CNN, crop);
    a weaker clip is rescaled by UNREAD_SCALE, and an image goes to review instead (both stages agree)."""
    strong = [0.02, 0.01, 0.97]
    result, v, _ = crop_stage([strong] * 5, strong, platform=None)
    assert v.calls > 0 and result.probability == pytest.approx(0.97, abs=1e-5) and result.platform == "youtube"
    weak = min(W.STEADY_PROB, W.STEADY_WINDOW_PROB) - 0.01  # under both clip rules (every window scores this too)
    weak_crop = [0.02, 0.98 - weak, weak]
    result, _, _ = crop_stage([strong] * 5, weak_crop, platform=None)
    assert result.probability == pytest.approx(W.UNREAD_SCALE["youtube"] * weak, abs=1e-5)
    result, _, _ = crop_stage([strong], strong, platform=None)
    assert result.probability == pytest.approx(W.SURE_WINDOW_SCALE * (1 + 0.97) / 2, abs=1e-5)


class BrightCropNet(FixedCropNet):
    """A crop classifier that calls a crop a YouTube mark when it is mostly bright, clean otherwise."""

    bright_probs = [0.05, 0.05, 0.9]

    def forward(self, x):
        self.seen.append(tuple(x.shape))
        bright = (x.mean(dim=(1, 2, 3)) > 0.4).float()[:, None]
        probs = bright * torch.tensor(self.bright_probs) + (1 - bright) * torch.tensor([0.98, 0.01, 0.01])
        return torch.log(probs), torch.zeros(len(x), 3, 1, 1)


def anchor_stage(frame_probs, platform) -> tuple[MediaScore, StubVerifier, BrightCropNet]:
    """64x64 frames, dark but for a bright top-left corner; the frame CNN's only region is the bottom-right cell."""
    det = SmallMarkProbs(frame_probs)
    det.crop_net, det.verifier = BrightCropNet([[1.0, 1.0, 1.0]]), StubVerifier(platform)
    frames = np.zeros((len(frame_probs), 64, 64, 3), np.uint8)
    frames[:, :16, :16] = 255
    return det.score_media(SampledFrames(frames, np.arange(len(frames), dtype=float), 0.0)), det.verifier, det.crop_net


def test_anchor_windows_find_a_corner_mark_the_frame_cnn_did_not_box():
    result, v, net = anchor_stage([[0.2, 0.05, 0.75]], "youtube")
    assert net.seen == [(1, 3, 32, 32), (6, 3, 32, 32)]  # the proposed region, then the six anchor windows
    assert v.calls == 1 and result.probability == W.CONFIRMED_PROB and result.platform == "youtube"
    assert result.evidence[0]["box"] == [0.0, 0.0, 0.25, 0.25]  # the top-left window, where OCR read the name
    result, v, _ = anchor_stage([[0.2, 0.05, 0.75]], None)
    assert v.calls == W.ANCHOR_READS and result.probability == pytest.approx(0.01, abs=1e-4)  # unread: min(CNN, crop)
    result, v, net = anchor_stage([[1.0 - W.ANCHOR_GATE + 0.01, 0.0, W.ANCHOR_GATE - 0.01]], "youtube")
    assert v.calls == 0 and net.seen == [(1, 3, 32, 32)]  # under ANCHOR_GATE the anchors are not looked at
    result, v, net = anchor_stage([[0.2, 0.05, 0.75]] * 5, "youtube")
    assert v.calls == 0 and net.seen[0] == (3, 3, 32, 32)  # a video: no OCR of anchor windows (ANCHOR_MAX_FRAMES)


def test_a_window_steady_over_a_clips_cropped_frames_is_evidence_of_its_own():
    """A clip whose crop classifier sees a mark in the same anchor window of every cropped frame scores that
    window (its smallest probability over the frames), even unread and beyond the frame CNN; a window marked in
    some frames only, or an image, does not."""
    def clip(bright_frames) -> tuple[MediaScore, StubVerifier, BrightCropNet]:
        det = SmallMarkProbs([[0.6, 0.05, 0.35]] * 5)
        det.crop_net, det.verifier = BrightCropNet([[1.0, 1.0, 1.0]]), StubVerifier(None)
        frames = np.zeros((5, 64, 64, 3), np.uint8)
        frames[bright_frames, :16, 48:] = 255  # the top-right corner: the second of the six anchor windows
        return det.score_media(SampledFrames(frames, np.arange(5, dtype=float), 5.0)), det.verifier, det.crop_net

    result, v, net = clip(slice(None))  # bright in every frame
    assert net.seen == [(3, 3, 32, 32), (6, 3, 32, 32), (2, 3, 32, 32)]  # the regions; six windows of the first cropped
    # frame; in the two others, the one window marked in the first
    assert result.probability == pytest.approx(0.9, abs=1e-4) and result.platform == "youtube" and v.calls == 0
    assert result.evidence[0]["box"] == [0.75, 0.0, 0.25, 0.25]
    result, _, _ = clip(slice(None, None, 2))  # frames 0, 2 and 4 only; the crop stage looks at frames 0, 1 and 2
    assert result.probability < W.STEADY_WINDOW_PROB


def test_an_image_window_the_crop_classifier_is_sure_of_goes_to_review_unread():
    """Unread, an image whose crop classifier gives a platform SURE_WINDOW_PROB or more in a region scores
    SURE_WINDOW_SCALE x that probability, with the region as evidence; just under it the unread rule stands."""
    sure = [0.002, 0.003, 0.995]
    result, v, _ = crop_stage([[0.6, 0.05, 0.35]], sure, platform=None)
    assert v.calls > 0 and result.platform == "youtube"
    assert result.probability == pytest.approx(W.SURE_WINDOW_SCALE * 0.995, abs=1e-5) and 0.5 < result.probability < 0.95
    assert result.evidence[0]["box"] == [0.75, 0.75, 0.25, 0.25]
    unsure = [0.01, 0.01, W.SURE_WINDOW_PROB - 0.01]
    result, _, _ = crop_stage([[0.6, 0.05, 0.35]], unsure, platform=None)
    assert result.probability == pytest.approx(W.UNREAD_SCALE["youtube"] * 0.35, abs=1e-5)
    result, _, _ = crop_stage([[0.6, 0.05, 0.35]] * 5, sure, platform=None)
    assert result.probability == pytest.approx(0.995, abs=1e-5)  # a clip: the rule for steady windows, not this one


def test_an_image_both_stages_agree_on_goes_to_review_unread():
    """Unread, an image whose frame CNN and crop classifier both give a platform AGREE_PROB or more (neither alone
    sure) scores SURE_WINDOW_SCALE x (1 + the smaller) / 2, in the review band; with the frame CNN just under
    AGREE_PROB the unread rule stands, and a clip keeps the rules for clips."""
    crop = [0.13, 0.02, 0.85]
    result, v, _ = crop_stage([[0.1, 0.02, 0.88]], crop, platform=None)
    assert v.calls > 0 and result.platform == "youtube"
    assert result.probability == pytest.approx(W.SURE_WINDOW_SCALE * (1 + 0.85) / 2, abs=1e-5)
    assert 0.5 < result.probability < 0.95 and result.evidence[0]["box"] == [0.75, 0.75, 0.25, 0.25]
    below = W.AGREE_PROB - 0.01
    result, _, _ = crop_stage([[0.99 - below, 0.01, below]], crop, platform=None)
    assert result.probability == pytest.approx(W.UNREAD_SCALE["youtube"] * below, abs=1e-5)
    result, _, _ = crop_stage([[0.1, 0.02, 0.88]] * 5, crop, platform=None)
    assert result.probability == pytest.approx(0.85, abs=1e-5)  # a clip: its steady window (0.85 in every cropped frame)


def test_a_sure_second_look_window_is_the_evidence():
    """The sure window may be an anchor window the frame CNN never boxed: it is then the evidence box."""
    class SureBrightNet(BrightCropNet):
        bright_probs = [0.002, 0.003, 0.995]

    det = SmallMarkProbs([[0.2, 0.05, 0.75]])
    det.crop_net, det.verifier = SureBrightNet([[1.0, 1.0, 1.0]]), StubVerifier(None)
    frames = np.zeros((1, 64, 64, 3), np.uint8)
    frames[:, :16, :16] = 255
    result = det.score_media(SampledFrames(frames, np.zeros(1), 0.0))
    assert result.probability == pytest.approx(W.SURE_WINDOW_SCALE * 0.995, abs=1e-4) and result.platform == "youtube"
    assert result.evidence[0]["box"] == [0.0, 0.0, 0.25, 0.25]


class FaintPeakProbs(FixedProbs):
    """16x16 cells: a strong mark-like cell at the bottom-right (the crop stage's region) and a faint local maximum
    at the centre, too weak for a group of strong cells (cell_threshold x the peak)."""

    def predict_arrays(self, frames):
        cells = np.zeros((len(frames), 3, 16, 16), np.float32)
        cells[:, 0] = 1.0
        cells[:, 0, 15, 15], cells[:, 2, 15, 15] = 0.0, 1.0
        cells[:, 0, 8, 8], cells[:, 2, 8, 8] = 0.9, 0.1
        return self.fixed, cells


def test_peak_windows_find_a_mark_at_a_faint_local_maximum():
    """256x256 frames, dark but for a bright square under the faint central peak: no anchor window holds it."""
    det = FaintPeakProbs([[0.2, 0.05, 0.75]])
    det.crop_net, det.verifier = BrightCropNet([[1.0, 1.0, 1.0]]), StubVerifier("youtube")
    frames = np.zeros((1, 256, 256, 3), np.uint8)
    frames[:, 104:168, 104:168] = 255
    result = det.score_media(SampledFrames(frames, np.zeros(1), 0.0))
    # the proposed region, then six anchor windows and the one peak outside it (the bottom-right peak is that region)
    assert det.crop_net.seen == [(1, 3, 32, 32), (7, 3, 32, 32)]
    assert det.verifier.calls == 1 and result.probability == W.CONFIRMED_PROB and result.platform == "youtube"
    assert result.evidence[0]["box"] == [0.4062, 0.4062, 0.25, 0.25]  # the 64-pixel window centred on cell (8, 8)


def test_peak_boxes_are_local_maxima_strongest_first():
    from models.watermark.crops import peak_boxes

    cells = np.zeros((4, 4), np.float32)
    cells[3, 3], cells[0, 1], cells[1, 1], cells[0, 3] = 0.5, 0.3, 0.2, 0.3
    assert peak_boxes(cells, 5) == [(0.625, 0.625, 0.5, 0.5), (0.125, -0.125, 0.5, 0.5), (0.625, -0.125, 0.5, 0.5)]
    assert peak_boxes(cells, 1) == [(0.625, 0.625, 0.5, 0.5)] and peak_boxes(np.zeros((4, 4)), 3) == []


def test_crop_stage_reads_no_crop_the_classifier_calls_clean():
    """A region whose crop P(any mark) is under CROP_READ_PROB is not read as a crop; its frame is read
    whole only when the frame CNN reaches FALLBACK_READ_PROB (a TikTok mark the crop classifier missed)."""
    clean_crop = [0.99, 0.005, 0.005]
    weak = 1.0 - (W.FALLBACK_READ_PROB - 0.1)
    result, v, _ = crop_stage([[weak, 0.05, W.FALLBACK_READ_PROB - 0.15]], clean_crop, platform="tiktok")
    assert v.calls == 0 and result.probability < 0.01  # neither crop nor frame read: min(CNN, crop) stands
    strong = 1.0 - (W.FALLBACK_READ_PROB + 0.05)
    result, v, _ = crop_stage([[strong, W.FALLBACK_READ_PROB, 0.05]], clean_crop, platform="tiktok")
    assert v.calls == 1 and result.probability == W.CONFIRMED_PROB and result.evidence[0]["box"] == [0.75, 0.75, 0.25, 0.25]
    result, v, _ = crop_stage([[0.05, 0.9, 0.05]], [1.0 - W.CROP_READ_PROB, W.CROP_READ_PROB, 0.0], platform=None)
    assert W.CROP_READ_PROB < W.ANCHOR_READ_PROB and v.calls == 2  # the crop (at CROP_READ_PROB), then the whole frame
    # (WHOLE_FRAME_PROB); the anchor windows, called marked at CROP_READ_PROB too, stay under ANCHOR_READ_PROB
    result, v, _ = crop_stage([[strong, W.FALLBACK_READ_PROB, 0.05]] * 5, clean_crop, platform=None)
    assert v.calls == 1  # a clip whose crops were all called clean: its strongest frame is read once, not three
    youtube_like = [[0.2, W.FALLBACK_READ_PROB - 0.05, 0.85 - W.FALLBACK_READ_PROB]] * 5
    result, v, _ = crop_stage(youtube_like, clean_crop, platform="youtube")
    assert v.calls == 0  # the fallback looks for TikTok: a frame strong on P(youtube) alone is not read whole


def test_crop_window_is_a_square_inside_the_frame():
    from models.watermark.crops import CROP_MIN_FRAC, crop_window, square_crop

    x0, y0, x1, y1 = crop_window((0.9, 0.95, 0.05, 0.02), 720, 1280)  # a small box at the bottom-right corner
    assert x1 - x0 == y1 - y0 == round(CROP_MIN_FRAC * 720) and x1 == 720 and y1 == 1280
    x0, y0, x1, y1 = crop_window((0.4, 0.4, 0.2, 0.05), 720, 1280)  # wider box: 1.6 x its width, centred
    assert x1 - x0 == y1 - y0 == round(0.2 * 720 * 1.6) and abs((x0 + x1) / 2 - 360) <= 1
    assert crop_window((0.0, 0.0, 1.0, 1.0), 720, 1280) == (0, 280, 720, 1000)  # never larger than the short side
    assert square_crop(np.zeros((1280, 720, 3), np.uint8), (0.1, 0.1, 0.1, 0.05), 64).shape == (64, 64, 3)


@pytest.mark.parametrize("width, height, middles", [(720, 1280, [(0, 550), (540, 550)]), (1280, 720, [(550, 0), (550, 540)])])
def test_anchor_windows_sit_at_the_corners_and_the_long_sides(width, height, middles):
    from models.watermark.crops import CROP_MIN_FRAC, anchor_boxes, crop_window

    side = round(CROP_MIN_FRAC * min(width, height))
    windows = [crop_window(b, width, height) for b in anchor_boxes(width, height)]
    assert all(x1 - x0 == y1 - y0 == side for x0, y0, x1, y1 in windows)
    corners = [(0, 0), (width - side, 0), (0, height - side), (width - side, height - side)]
    assert [(x0, y0) for x0, y0, _, _ in windows] == corners + middles


def test_crop_labels_follow_how_much_mark_a_crop_holds():
    from training.watermark import train_crops as T

    img = np.zeros((960, 540, 3), np.uint8)
    box = (0.05, 0.05, 0.1, 0.03)  # top-left mark
    far = (0.7, 0.8, 0.1, 0.05)  # a proposal at the other corner
    partial = (0.05 + 0.05 + 135 / 540 / 2 - 0.01, 0.05, 0.1, 0.03)  # a window that holds about half the mark
    crops = T.labelled_crops(np.random.default_rng(0), [box, far, partial], img, 2, box)
    labels = [y for _, y in crops]
    assert labels[:2] == [2, 0] and len(crops) == 3 and labels[2] == 2  # the partial one is dropped; last: jittered box
    assert T.inside_fraction(box, (0, 0, 540, 960), 540, 960) == pytest.approx(1.0)
    assert all(c.shape == (T.crop_size, T.crop_size, 3) for c, _ in crops)


def test_crop_training_can_add_an_anchor_window_per_frame(monkeypatch):
    from models.watermark.crops import anchor_boxes
    from training.watermark import train_crops as T

    img, proposals = np.zeros((960, 540, 3), np.uint8), [(0.4, 0.4, 0.1, 0.05)]
    rng = np.random.default_rng(0)
    monkeypatch.setattr(T, "anchor_windows", 1)
    regions = T.with_anchors(rng, proposals, img)
    assert regions[:1] == proposals and len(regions) == 2 and regions[1] in anchor_boxes(540, 960)
    monkeypatch.setattr(T, "anchor_windows", 0)
    state = rng.bit_generator.state
    assert T.with_anchors(rng, proposals, img) == proposals and rng.bit_generator.state == state  # no draw: old runs reproduce


def test_load_without_rapidocr_says_how_to_recover(monkeypatch):
    if not SHIPPED:
        pytest.skip("needs the shipped artifact")
    monkeypatch.setattr(TextVerifier, "available", staticmethod(lambda: False))
    with pytest.raises(ImportError, match="rapidocr-onnxruntime is not installed.*ocr=False"):
        load()
    assert load(ocr=False).verifier is None


# --- shipped artifact -------------------------------------------------------------------
try:  # Pillow draws the mark's text; it is a training-time package, not a runtime one
    from PIL import Image, ImageDraw, ImageFont
except ImportError:  # pragma: no cover
    Image = None

SHIPPED = (ARTIFACT_DIR / "model.safetensors").is_file()
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def scene(i: int, w: int = 360, h: int = 640) -> np.ndarray:
    """Smooth moving colour blobs: footage-like, no text."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c, (fx, fy, ph) in enumerate([(0.011, 0.007, 0.3), (0.006, 0.013, 1.1), (0.009, 0.004, 2.0)]):
        img[..., c] = 128 + 90 * np.sin(xx * fx + yy * fy + ph + i * 0.05)
    return img.astype(np.uint8)


def tiktok_overlay(img: np.ndarray, x: int, y: int) -> None:
    """A TikTok-style corner mark: note logo with cyan/red offsets, "TikTok", "@handle"."""
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    for dx, col in ((-2, (37, 244, 238)), (2, (254, 44, 85)), (0, (255, 255, 255))):
        d.ellipse([x + dx, y + 22 + dx, x + 16 + dx, y + 38 + dx], outline=col, width=4)
        d.rectangle([x + 12 + dx, y + dx, x + 16 + dx, y + 30 + dx], fill=col)
        d.arc([x + 12 + dx, y - 6 + dx, x + 30 + dx, y + 14 + dx], 180, 270, fill=col, width=4)
    d.text((x, y + 42), "TikTok", font=ImageFont.truetype(FONT, 22), fill="white")
    d.text((x, y + 68), "@cooking.daily", font=ImageFont.truetype(FONT, 13), fill="white")
    img[:] = np.asarray(pil)


def encode(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps, options={"crf": "26", "preset": "ultrafast", "g": "10"})
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for f in frames:
            for pkt in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    return path


def shipped_scores(tmp_path) -> tuple:
    detector = load()
    marked, clean = [], []
    for i in range(40):  # 4 s at 10 fps; the mark jumps from top-left to bottom-right halfway
        frame = scene(i)
        clean.append(frame.copy())
        cv2.putText(clean[-1], "best recipe ever", (40, 520), cv2.FONT_HERSHEY_DUPLEX, 1.0, (255, 255, 255), 2)
        tiktok_overlay(frame, *((14, 20) if i < 20 else (250, 540)))
        marked.append(frame)
    size = detector.input_size
    hit = detector.score_media(sample_frames(encode(tmp_path / "tt.mp4", marked), "video", size=size))
    miss = detector.score_media(sample_frames(encode(tmp_path / "clean.mp4", clean), "video", size=size))
    return hit, miss


needs_artifact = pytest.mark.skipif(not SHIPPED or Image is None, reason="needs the shipped artifact and Pillow")


@needs_artifact
def test_shipped_artifact_flags_tiktok_mark(tmp_path):
    hit, _ = shipped_scores(tmp_path)
    assert hit.platform == "tiktok" and hit.probability > 0.5, hit
    assert hit.evidence and hit.evidence[0]["box"][2] < 0.6


@needs_artifact
def test_shipped_artifact_passes_clean_clip(tmp_path):
    _, miss = shipped_scores(tmp_path)
    assert miss.probability < 0.5, miss


needs_ocr = pytest.mark.skipif(Image is None or not TextVerifier.available(), reason="needs Pillow and rapidocr-onnxruntime")


@needs_ocr
def test_ocr_reads_the_mark_at_detector_resolution():
    """The real engine (no network: its models ship in the wheel) on 256x256 frames as sampled."""
    marked, clean = scene(0), scene(0)
    tiktok_overlay(marked, 20, 30)
    cv2.putText(clean, "best recipe ever", (40, 520), cv2.FONT_HERSHEY_DUPLEX, 1.0, (255, 255, 255), 2)
    small = [cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA) for f in (marked, clean)]
    verifier = TextVerifier(num_threads=1)
    assert verifier.platform_in(small[0]) == "tiktok"
    assert verifier.platform_in(small[1]) is None and verifier.calls == 2


@needs_ocr
def test_small_mark_is_read_in_a_crop_of_the_near_source_frame(tmp_path, tiny):
    """A mark about 11 % of a 720x1280 frame wide is a few pixels of text at 256x256: OCR reads
    it only in a crop of the frame near source resolution (`SampledFrames.original`)."""
    frame = scene(0, 720, 1280)
    tiktok_overlay(frame, 600, 1100)
    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    sampled = sample_frames(path, "image", size=(256, 256))
    original = sampled.original(0)
    assert sampled.frames.shape == (1, 256, 256, 3) and original.shape == (1280, 720, 3)
    box = (600 / 720, 1100 / 1280, 90 / 720, 90 / 1280)  # roughly where the mark is, as a CNN box would be
    detector = WatermarkDetector(tiny.net, verifier=TextVerifier(num_threads=1))
    assert detector.verify_frame(sampled.frames[0]) is None  # the whole 256x256 frame: unreadable
    assert detector.verify_frame(sampled.frames[0], original, box) == "tiktok"
    assert detector.verify_frame(sampled.frames[0], original, (0.05, 0.05, 0.1, 0.05)) is None  # elsewhere: no mark


def test_whole_frame_is_read_after_crops_only_for_strong_proposals(tmp_path, tiny):
    """`_regions`: crops around small mark-like cell groups first; the whole sampled frame after them
    only from WHOLE_FRAME_PROB on, and always when there is no crop (or no near-source frame)."""
    from models.watermark import detector as W

    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(scene(0, 720, 1280), cv2.COLOR_RGB2BGR))
    sampled = sample_frames(path, "image", size=(256, 256))
    cells = np.zeros((1, 3, 8, 8), np.float32)
    cells[0, 0] = 1.0
    cells[0, 0, 6:8, 5:7], cells[0, 1, 6:8, 5:7] = 0.1, 0.9  # a small group of mark-like cells, bottom right
    detector = WatermarkDetector(tiny.net)
    original, weak = detector._regions(sampled, 0, cells, any_mark=W.WHOLE_FRAME_PROB - 0.05)
    assert original is not None and original.shape == (1280, 720, 3)
    assert len(weak) == 1 and weak[0] == (0.625, 0.75, 0.25, 0.25)  # the crop only
    _, strong = detector._regions(sampled, 0, cells, any_mark=W.WHOLE_FRAME_PROB)
    assert strong == weak + [None]  # then the whole frame
    cells[0, 0], cells[0, 1] = 0.2, 0.8  # mark-like everywhere: no box narrow enough to crop
    assert detector._regions(sampled, 0, cells, any_mark=0.3) == (None, [None])


# --- on-the-fly training frames ----------------------------------------------------------
def test_synth_frames_labels_and_boxes():
    """synth.py: frames at the input size, labels in range, boxes inside the frame exactly for corner marks."""
    from training.watermark import data as D, render as R, synth as S
    photos = D.load_photos(["astronaut", "brick"])
    syn = S.Synth(photos, [], R.TRAIN_FONTS[:1], (64, 96), seed=0, n_marks=3, n_overlays=3, n_cards=1)
    rng = np.random.default_rng(0)
    for label in (0, 1, 2, 3):
        img, y, box = syn.sample(rng, label)
        assert img.shape == (64, 96, 3) and img.dtype == np.uint8
        assert y == (1 if label == 3 else label)
        if label in (1, 2):
            assert np.all(box >= 0) and box[0] + box[2] <= 1 + 1e-6 and box[1] + box[3] <= 1 + 1e-6 and box[2] > 0
        else:
            assert np.isnan(box).all()
    x, y, b = syn.batch(rng, 6)
    assert x.shape == (6, 64, 96, 3) and y.shape == (6,) and b.shape == (6, 4) and set(y.tolist()) <= {0, 1, 2}


def test_wallpaper_backgrounds_take_one_size_per_picture_and_skip_blank_layers(tmp_path):
    from training.watermark import backgrounds as BG

    def png(rel: str, side: int) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((side, side, 3), 90, np.uint8))

    kde = "usr/share/wallpapers/Path/contents"
    png(f"{kde}/images/640x480.png", 16)
    png(f"{kde}/images/2560x1600.png", 64)  # the largest size of the same picture is the one kept
    png(f"{kde}/screenshot.png", 32)
    png("usr/share/backgrounds/mate/nature/Aqua.png", 24)
    png("usr/share/backgrounds/mate/abstract/Silk.png", 24)  # a transparent layer: blank once decoded
    files = BG.image_files(tmp_path)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "usr/share/backgrounds/mate/nature/Aqua.png", f"{kde}/images/2560x1600.png"]
    assert [img.shape for img in BG.load_backgrounds(tmp_path)] == [(24, 24, 3), (64, 64, 3)]
    with pytest.raises(FileNotFoundError, match="python -m training.watermark.backgrounds"):
        BG.load_backgrounds(tmp_path / "missing")


def test_stamps_are_trimmed_rgba_cutouts_and_need_an_alpha_channel(tmp_path):
    from training.watermark import backgrounds as BG
    obj = np.zeros((40, 50, 4), np.uint8)
    obj[10:30, 5:25] = (0, 0, 255, 255)  # BGRA: an opaque red square in a transparent border
    (tmp_path / "food").mkdir()
    cv2.imwrite(str(tmp_path / "food" / "apple.png"), obj)
    cv2.imwrite(str(tmp_path / "food" / "flat.png"), np.full((30, 30, 3), 90, np.uint8))  # no alpha: skipped
    stamps = BG.load_stamps(tmp_path)
    assert len(stamps) == 1 and stamps[0].shape == (20, 20, 4)
    assert tuple(stamps[0][0, 0]) == (255, 0, 0, 255)  # RGBA, border trimmed
    with pytest.raises(FileNotFoundError, match="stamps_dest"):
        BG.load_stamps(tmp_path / "missing")


def test_synth_stamps_change_frames_only_when_switched_on():
    """Object cut-outs are pasted into frames with stamp_p > 0; at 0 the random stream is the one older runs drew."""
    from training.watermark import data as D, render as R, synth as S
    photos = D.load_photos(["astronaut"])
    red = np.zeros((20, 20, 4), np.uint8)
    red[...] = (255, 0, 0, 255)

    def frames(**kw):
        syn = S.Synth(photos, [], R.TRAIN_FONTS[:1], (64, 96), seed=0, n_marks=2, n_overlays=2, n_cards=1, **kw)
        rng = np.random.default_rng(3)
        return [syn.sample(rng, 0)[0] for _ in range(4)]

    plain, off, on = frames(), frames(stamps=[red], stamp_p=0.0), frames(stamps=[red], stamp_p=1.0)
    assert all(np.array_equal(a, b) for a, b in zip(plain, off))
    redness = lambda im: int(((im[..., 0] > 200) & (im[..., 1] < 60) & (im[..., 2] < 60)).sum())  # noqa: E731
    assert sum(map(redness, on)) > sum(map(redness, plain)) + 20
