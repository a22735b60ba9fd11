"""Propagating a corrected object through a video's stored frames with SAM 2's video
memory (a tiny random-weight model), then accepting the proposals frame by frame."""

from __future__ import annotations

import numpy as np
from starlette.testclient import TestClient

from distil.detections import FrameIdentity
from distil.review.app.loading import open_session
from distil.review.app.server import create_app
from distil.settings import ReviewServeSettings
from distil.sources import read_file
from distil.sources.video import video_id
from distil.store import LabelStore, StoreBatch, StoredFrame
from tests.review.test_ranking import boxes
from tests.review.test_round import ONTOLOGY, SETTINGS
from tests.synthetic import make_video

HEADERS = {"x-distil-token": "t"}
FRAMES = 8


def video_store(tmp_path):
    clip = make_video(tmp_path / "clips" / "clip.mp4", frames=FRAMES)
    digest, vid = read_file(clip)[1], video_id(clip)
    with LabelStore.create(tmp_path / "label", SETTINGS) as store:
        store.set_ontology(ONTOLOGY)
        batch = StoreBatch()
        for index in range(FRAMES):
            identity = FrameIdentity(clip, clip.parent, f"{digest}-{index}", index, vid, index / 10)
            batch.frames.append(StoredFrame(identity, 160, 120, boxes((10, 30, 40, 60, 0.4, 0))))
        store.write_batch(batch)
    return tmp_path / "label"


def always_visible(model: str, folder) -> str:
    """The tiny video model with its object-score head fixed to "visible": random weights
    otherwise lose every object at once, and nothing would be carried."""
    import shutil

    import torch
    import transformers

    video = transformers.Sam2VideoModel.from_pretrained(model)
    head = video.mask_decoder.pred_obj_score_head.proj_out
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(10.0)
    shutil.copytree(model, folder)
    video.save_pretrained(folder)
    return str(folder)


def test_a_corrected_box_is_carried_through_the_video_and_accepted(tmp_path, tiny_sam2_video):
    store = video_store(tmp_path)
    tiny_sam2_video = always_visible(tiny_sam2_video, tmp_path / "video-model")
    session = open_session(
        store, ReviewServeSettings(segmenter=tiny_sam2_video, device="cpu", prefetch=False)
    )
    assert session.video_model == tiny_sam2_video
    client = TestClient(create_app(session, "t"), base_url="http://127.0.0.1:8765")
    info = client.get("/api/info", headers=HEADERS).json()
    assert info["video_model"] == tiny_sam2_video
    start = session.by_key[f"{tmp_path / 'clips' / 'clip.mp4'}#2"].id
    client.post("/api/hold", headers=HEADERS, json={"client": "a", "frame": start})
    label = {"xyxy": [14, 30, 44, 60], "class_id": 1}
    forward = client.post(
        f"/api/frames/{start}/propagate", headers=HEADERS,
        json={"client": "a", "labels": [label], "frames": 3},
    )  # fmt: skip
    assert forward.status_code == 200, forward.text
    frames = forward.json()["frames"]
    indices = [session.frames[f["id"]].identity.frame_index for f in frames]
    assert indices == [3, 4, 5]  # the next stored frames, in order
    backward = client.post(
        f"/api/frames/{start}/propagate", headers=HEADERS,
        json={"client": "a", "labels": [label], "backward": True, "frames": 5},
    ).json()["frames"]  # fmt: skip
    assert [session.frames[f["id"]].identity.frame_index for f in backward] == [1, 0]
    # The person accepts the first proposal as it is: its mask comes from the video model.
    proposal = frames[0]
    (carried,) = proposal["labels"]
    assert carried["class_id"] == 1 and carried["mask"]["id"].startswith("v")
    client.post("/api/hold", headers=HEADERS, json={"client": "a", "frame": proposal["id"]})
    saved = client.post(
        f"/api/frames/{proposal['id']}/save", headers=HEADERS,
        json={"client": "a", "labels": [{**carried, "mask": carried["mask"]["id"]}]},
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    with LabelStore.open(store) as opened:
        (human,) = opened.human_labels(with_masks=True)
    assert human.detections.mask.shape == (1, 120, 160) and human.detections.mask.any()
    np.testing.assert_allclose(human.detections.xyxy[0], carried["xyxy"])
    image_frame = client.post(
        f"/api/frames/{start}/propagate", headers=HEADERS,
        json={"client": "a", "labels": []},
    )  # fmt: skip
    assert image_frame.status_code == 400 and "nothing to propagate" in image_frame.json()["error"]


def test_propagating_without_a_video_model_says_so(tmp_path, tiny_sam):
    store = video_store(tmp_path)
    session = open_session(store, ReviewServeSettings(segmenter=tiny_sam, device="cpu"))
    assert session.video_model is None
    client = TestClient(create_app(session, "t"), base_url="http://127.0.0.1:8765")
    answer = client.post(
        "/api/frames/0/propagate", headers=HEADERS,
        json={"client": "a", "labels": [{"xyxy": [1, 1, 9, 9], "class_id": 0}]},
    )  # fmt: skip
    assert answer.status_code == 409 and "SAM 2.1 or EdgeTAM" in answer.json()["error"]
