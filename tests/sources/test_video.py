from pathlib import Path

import numpy as np
import pytest

from distil.sources import scan_sources
from distil.sources.video import (
    FrameSampling,
    VideoFrames,
    VideoReadError,
    VideoReport,
    frame_hash,
    iter_video,
    read_video,
    video_id,
)
from tests.synthetic import make_video, moving_shapes_frame


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames=30, fps=10)


@pytest.mark.parametrize(
    ("name", "codec"),
    [("a.mp4", "libx264"), ("b.MOV", "mpeg4"), ("c.avi", "mpeg4"), ("d.mkv", "libx264")]
    + [("e.webm", "libvpx-vp9")],
)
def test_every_container_decodes_all_frames_in_order(tmp_path, name, codec):
    path = make_video(tmp_path / name, frames=12, codec=codec)
    report = VideoReport(path)
    frames = list(iter_video(path, report=report))
    assert [f.index for f in frames] == list(range(12))
    assert [f.timestamp for f in frames] == pytest.approx([i / 10 for i in range(12)])
    assert report.decoded == report.kept == 12 and report.problem is None
    for f in frames:  # right picture for each index (lossy codec: small mean error)
        assert np.abs(f.rgb().astype(int) - moving_shapes_frame(f.index)).mean() < 6


def test_scan_sources_mixes_images_and_videos_any_case(tmp_path, clip):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "x.MP4").write_bytes(clip.read_bytes())
    (tmp_path / "v" / "y.JPG").write_bytes(b"image")
    (tmp_path / "v" / "notes.txt").write_text("no")
    assert [p.name for p in scan_sources(tmp_path / "v")] == ["x.MP4", "y.JPG"]


def test_stride_range_and_cap(clip):
    assert [f.index for f in iter_video(clip, FrameSampling(every=5))] == [0, 5, 10, 15, 20, 25]
    ranged = FrameSampling(every=4, start=0.5, end=2.0)
    assert [f.index for f in iter_video(clip, ranged)] == [5, 9, 13, 17]
    report = VideoReport(clip)
    assert [f.index for f in iter_video(clip, FrameSampling(max_frames=3), report)] == [0, 1, 2]
    assert report.problem is None  # stopping at the cap is not a truncation


def test_fps_sampling_follows_timestamps_of_variable_rate_video(tmp_path):
    # timestamps (s): 0, .1, .15, .4, .41, .42, .8, .9, 1.0, 1.5
    pts = [0, 100, 150, 400, 410, 420, 800, 900, 1000, 1500]
    path = make_video(tmp_path / "vfr.mp4", frames=10, pts=pts)
    frames = list(iter_video(path))
    assert [f.timestamp for f in frames] == pytest.approx([p / 1000 for p in pts])
    two_fps = [(f.index, f.timestamp) for f in iter_video(path, FrameSampling(fps=2))]
    assert two_fps == [(0, 0.0), (6, pytest.approx(0.8)), (8, pytest.approx(1.0)), (9, 1.5)]


def test_rotation_metadata_turns_the_picture_upright(tmp_path):
    path = make_video(tmp_path / "phone.mp4", frames=2, rotation=90)
    upright = next(iter_video(path)).rgb()
    assert upright.shape == (160, 120, 3)
    expected = np.rot90(moving_shapes_frame(0), k=1)  # 90 degrees counter-clockwise
    assert np.abs(upright.astype(int) - expected).mean() < 6


def test_dedup_drops_repeated_frames(tmp_path):
    def held(i, width, height):  # each picture held for 3 frames
        image = np.zeros((height, width, 3), np.uint8)
        image[:, width - (i // 3 + 1) * width // 10 :] = 255  # dHash sees rising edges
        image[: (i // 3 % 2 + 1) * height // 3] //= 2
        return image

    path = make_video(tmp_path / "held.mp4", frames=30, draw=held)
    report = VideoReport(path)
    kept = [f.index for f in iter_video(path, FrameSampling(dedup=0), report)]
    assert kept == list(range(0, 30, 3))
    assert report.duplicates == 20


def test_truncated_video_yields_what_it_can_and_says_so(tmp_path):
    whole = make_video(tmp_path / "long.mkv", frames=100)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    report = VideoReport(cut)
    frames = list(iter_video(cut, report=report))
    assert 0 < len(frames) < 100
    assert report.problem.startswith("truncated: frames end at")


def test_unreadable_videos_raise_with_a_reason(tmp_path, clip):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    with pytest.raises(VideoReadError, match="not a readable video"):
        list(iter_video(junk))
    cut = tmp_path / "cut.mp4"  # mp4 keeps its index at the end: half a file cannot open
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(VideoReadError):
        list(iter_video(cut))
    with pytest.raises(VideoReadError, match="file not found"):
        list(iter_video(tmp_path / "missing.mp4"))


def test_identity_and_random_access(clip, tmp_path):
    frames = list(read_video(clip, FrameSampling(every=10)))
    identity = video_id(clip)
    assert [f.identity.hash for f in frames] == [frame_hash(identity, i) for i in (0, 10, 20)]
    assert {f.identity.video_id for f in frames} == {identity}
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clip.read_bytes())
    assert video_id(copy) == identity
    frames = VideoFrames()
    picked = {i: frames.get(clip, i) for i in (3, 17, 5)}  # 5 after 17: restarts the video
    again = {f.index: f.rgb() for f in iter_video(clip) if f.index in (3, 5, 17)}
    assert all(np.array_equal(picked[i], again[i]) for i in (3, 5, 17))
    with pytest.raises(VideoReadError, match="no frame 99"):
        frames.get(clip, 99)


def test_sampling_options_are_checked():
    with pytest.raises(ValueError, match="every.* and .*fps"):
        FrameSampling(every=2, fps=1)
    with pytest.raises(ValueError, match="must be after"):
        FrameSampling(start=3, end=1)
    with pytest.raises(ValueError, match="dedup"):
        FrameSampling(dedup=65)
