"""The review app's HTTP API on a crafted store: the token, cross-site and path refusals,
the queue's order and exclusions, two tabs, saving (provenance, edits, export), a source
changed on disk, a store another process writes, and clicks answered by a tiny SAM."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from distil.review.app.server import create_app
from distil.review.app.session import ReviewSession
from distil.settings import QueueOrder, ReviewServeSettings
from distil.store import LabelStore
from tests.review.test_round import TEACHER, invoke, make_store

TOKEN = "test-token"
HEADERS = {"x-distil-token": TOKEN}


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "label", tmp_path / "images", TEACHER)


def client_for(session: ReviewSession) -> TestClient:
    return TestClient(create_app(session, TOKEN), base_url="http://127.0.0.1:8765")


def post(http: TestClient, path: str, **body):
    return http.post(path, headers=HEADERS, json=body)


def test_every_request_needs_the_token(store):
    client = client_for(ReviewSession(store, ReviewServeSettings()))
    assert client.get("/").status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    page = client.get(f"/?token={TOKEN}")
    assert page.status_code == 200 and TOKEN in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200  # the cookie the page set
    for path in ("/api/info", "/api/frames/0", "/api/frames/0/image"):
        assert client.get(path).status_code == 401  # a cookie is not enough for the API
        assert client.get(path, headers={"x-distil-token": "wrong"}).status_code == 401
        assert client.get(path, headers=HEADERS).status_code == 200
    assert client.post("/api/claim", json={"client": "a"}).status_code == 401


def test_cross_site_requests_and_unknown_hosts_are_refused(store):
    client = client_for(ReviewSession(store, ReviewServeSettings()))
    evil = {**HEADERS, "origin": "http://evil.example"}
    assert client.post("/api/claim", headers=evil, json={"client": "a"}).status_code == 403
    fetch = {**HEADERS, "sec-fetch-site": "cross-site"}
    assert client.get("/api/info", headers=fetch).status_code == 403
    rebinding = {**HEADERS, "host": "attacker.example:8765"}
    assert client.get("/api/info", headers=rebinding).status_code == 421
    same = {**HEADERS, "origin": "http://127.0.0.1:8765", "sec-fetch-site": "same-origin"}
    assert client.post("/api/claim", headers=same, json={"client": "a"}).status_code == 200


def test_only_stored_frames_by_id_are_served(store, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the page")
    client = client_for(ReviewSession(store, ReviewServeSettings()))
    client.cookies.set("distil_token", TOKEN)
    for path in (
        f"/api/frames/{secret}/image",
        "/api/frames/..%2F..%2Fsecret.txt/image",
        "/api/frames/99/image",
        "/api/frames/-1/image",
        "/static/..%2F..%2Fsession.py",
        "/static/index.html",
    ):
        response = client.get(path, headers=HEADERS)
        assert response.status_code == 404, path
        assert b"not for the page" not in response.content
    image = client.get("/api/frames/0/image", headers=HEADERS)
    assert image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"


def test_the_queue_is_the_ranking_less_reviewed_and_pending_frames(store, tmp_path):
    ranked = json.loads(invoke("review", store, "--json").stdout)["frames"]
    order = [f["path"] for f in ranked]
    session = ReviewSession(store, ReviewServeSettings())
    assert [session.frames[i].identity.key for i in session.queue] == order
    # A reviewed frame and a frame handed out in a round not returned yet are left out.
    reviewed = session.by_key[order[0]]
    session.save("a", reviewed.id, [], 1.0)
    result = invoke("review", store, "--top", "1", "--to", tmp_path / "round", "--json")
    pending = json.loads(result.stdout)["ranking"]["frames"][0]["path"]
    again = ReviewSession(store, ReviewServeSettings())
    keys = [again.frames[i].identity.key for i in again.queue]
    assert keys == [k for k in order if k not in (reviewed.identity.key, pending)]
    # --frames all browses every frame in stored order, reviewed ones included.
    every = ReviewSession(store, ReviewServeSettings(frames=QueueOrder.ALL))
    assert every.queue == list(range(len(TEACHER)))


def test_two_tabs_never_get_the_same_frame(store):
    session = ReviewSession(store, ReviewServeSettings())
    client = client_for(session)
    first = post(client, "/api/claim", client="tab-a").json()["frame"]
    second = post(client, "/api/claim", client="tab-b").json()["frame"]
    assert first != second
    assert post(client, "/api/hold", client="tab-b", frame=first).status_code == 409
    refused = post(client, f"/api/frames/{first}/save", client="tab-b", labels=[])
    assert refused.status_code == 409 and "another tab" in refused.json()["error"]
    # A tab that goes away gives its frame back.
    post(client, "/api/release", client="tab-a")
    assert post(client, "/api/hold", client="tab-b", frame=first).status_code == 200


def test_a_save_is_human_labels_with_provenance_and_edits(store, tmp_path):
    session = ReviewSession(store, ReviewServeSettings(reviewer="ada"))
    client = client_for(session)
    frame_id = post(client, "/api/claim", client="a").json()["frame"]
    frame = client.get(f"/api/frames/{frame_id}", headers=HEADERS).json()
    assert frame["name"] == "doubt.jpg" and frame["reasons"]
    exported = [label for label in frame["teacher"] if label["exported"]]
    below = [label for label in frame["teacher"] if not label["exported"]]
    assert [label["score"] for label in exported] == [0.52] and [b["score"] for b in below] == [
        0.45
    ]
    car = exported[0]
    labels = [
        {**car, "xyxy": [6, 5, 31, 30], "class_id": 1},  # moved and relabeled
        {"xyxy": [40, 10, 70, 40], "class_id": 1, "origin": below[0]["origin"]},  # raised
        {"xyxy": [60, 40, 75, 55], "class_id": 0},  # drawn
    ]
    saved = post(client, f"/api/frames/{frame_id}/save", client="a", labels=labels, seconds=12.5)
    assert saved.status_code == 200, saved.text
    edits = saved.json()["edits"]
    assert edits == {
        "added": 2, "deleted": 0, "relabeled": 1, "moved": 1, "masks": 0, "changed": 4,
        "seconds": 12.5,
    }  # fmt: skip
    with LabelStore.open(store) as opened:
        (human,) = opened.human_labels()
        (app_round,) = opened.review_rounds()
    assert human.reviewer == "ada" and human.format == "app" and human.edits == edits
    assert human.round == app_round.round and app_round.format == "app"
    assert app_round.frames == [session.frames[frame_id].identity.key]
    np.testing.assert_allclose(human.detections.xyxy[0], [6, 5, 31, 30])
    # The next frame comes next; the saved one is left out of the queue.
    assert post(client, "/api/claim", client="a", after=frame_id).json()["frame"] != frame_id
    # Export writes what the reviewer saved (human labels win).
    out = tmp_path / "dataset"
    result = invoke("export", store, "--to", out, "--format", "yolo", "--split", "1,0,0")
    assert result.exit_code == 0, result.output
    rows = (out / "labels/train/doubt.txt").read_text().split("\n")
    assert sorted(row.split()[0] for row in rows if row) == ["0", "1", "1"]
    # The round is listed where rounds are listed.
    listed = invoke("review", store, "--json")
    assert json.loads(listed.stdout)["reviewed"] == 1


def test_a_frame_whose_source_changed_is_not_saved(store, tmp_path):
    session = ReviewSession(store, ReviewServeSettings())
    frame_id = session.claim("a")
    path = session.frames[frame_id].identity.path
    Image.new("RGB", (80, 60), (1, 2, 3)).save(path)
    os.utime(path, (1, 1))
    client = client_for(session)
    refused = post(client, f"/api/frames/{frame_id}/save", client="a", labels=[])
    assert refused.status_code == 409
    assert "changed since it was labeled" in refused.json()["error"]
    with LabelStore.open(store) as opened:
        assert not list(opened.human_labels())


def test_a_store_being_labeled_refuses_the_save_clearly(store):
    session = ReviewSession(store, ReviewServeSettings())
    frame_id = session.claim("a")
    client = client_for(session)
    with LabelStore.edit(store):  # another writer holds the store's lock
        refused = post(client, f"/api/frames/{frame_id}/save", client="a", labels=[])
    assert refused.status_code == 409 and "pid" in refused.json()["error"]
    assert post(client, f"/api/frames/{frame_id}/save", client="a", labels=[]).status_code == 200


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([{"xyxy": [1, 2, 3], "class_id": 0}], "4 finite numbers"),
        ([{"xyxy": [1, 2, "x", 4], "class_id": 0}], "needs xyxy"),
        ([{"xyxy": [1, 2, 30, 40], "class_id": 7}], "not a class"),
        ([{"xyxy": [90, 70, 95, 80], "class_id": 0}], "inside the frame"),
        ([{"xyxy": [1, 2, 30, 40], "class_id": 0, "mask": "p999"}], "click again"),
        ("not a list", "labels:"),
    ],
)
def test_bad_saves_say_why(store, labels, message):
    session = ReviewSession(store, ReviewServeSettings())
    frame_id = session.claim("a")
    response = post(client_for(session), f"/api/frames/{frame_id}/save", client="a", labels=labels)
    assert response.status_code in (400, 409) and message in response.json()["error"]


def test_clicks_and_boxes_get_masks_from_one_embedding(store, tiny_sam):
    from distil.base_models.sam import SamSegmenter

    segmenter = SamSegmenter(tiny_sam, device="cpu")
    calls = {"embed": 0}
    embed = segmenter.embed

    def counted(image):
        calls["embed"] += 1
        return embed(image)

    segmenter.embed = counted
    session = ReviewSession(store, ReviewServeSettings(prefetch=False), segmenter=segmenter)
    client = client_for(session)
    frame_id = post(client, "/api/claim", client="a").json()["frame"]
    first = post(client, f"/api/frames/{frame_id}/prompt", client="a", points=[[20, 20, 1]])
    assert first.status_code == 200, first.text
    refined = post(
        client, f"/api/frames/{frame_id}/prompt", client="a", points=[[20, 20, 1], [60, 40, 0]]
    ).json()
    boxed = post(client, f"/api/frames/{frame_id}/prompt", client="a", box=[5, 5, 30, 30]).json()
    assert calls["embed"] == 1  # one encoding for every prompt on the frame
    answer = boxed if boxed["mask"] else refined
    assert answer["mask"]["png"].startswith("data:image/png;base64,")
    x0, y0, x1, y1 = answer["xyxy"]
    assert 0 <= x0 < x1 <= 80 and 0 <= y0 < y1 <= 60
    label = {"xyxy": answer["xyxy"], "class_id": 0, "mask": answer["mask"]["id"]}
    drawn = {"xyxy": [50, 30, 70, 50], "class_id": 1}
    saved = post(client, f"/api/frames/{frame_id}/save", client="a", labels=[label, drawn])
    assert saved.status_code == 200, saved.text
    assert saved.json()["edits"]["masks"] == 1 and saved.json()["edits"]["box_masks"] == 1
    with LabelStore.open(store) as opened:
        (human,) = opened.human_labels(with_masks=True)
    assert human.detections.mask.shape == (2, 60, 80)
    assert human.detections.mask[1][30:50, 50:70].all()  # the drawn box's own mask


def test_prompts_without_a_segmenter_say_so(store):
    session = ReviewSession(store, ReviewServeSettings())
    client = client_for(session)
    frame_id = post(client, "/api/claim", client="a").json()["frame"]
    answer = post(client, f"/api/frames/{frame_id}/prompt", client="a", points=[[5, 5, 1]])
    assert answer.status_code == 409 and "no segmenter" in answer.json()["error"]


def test_what_reviewers_did_is_counted_per_round(tmp_path):
    """`distil review stats` and the run report show the app round's edits and time."""
    store = make_store(tmp_path / "run" / "label", tmp_path / "images", TEACHER)
    session = ReviewSession(store, ReviewServeSettings(reviewer="ada"))
    first = session.claim("a")
    teacher = session.frame(first)["teacher"]
    kept = [{**t, "class_id": 1 - t["class_id"]} for t in teacher if t["exported"]]
    session.save("a", first, [*kept, {"xyxy": [1, 1, 9, 9], "class_id": 0}], 4.0)
    second = session.claim("a", first)
    session.save("a", second, [], 6.0)
    result = invoke("review", "stats", store, "--json")
    assert result.exit_code == 0, result.output
    (app_round,) = json.loads(result.stdout)
    deleted = len([t for t in session.frame(second)["teacher"] if t["exported"]])
    assert app_round["kind"] == "app" and app_round["reviewed"] == 2
    assert app_round["edits"] == {
        "added": 1, "deleted": deleted, "relabeled": len(kept), "moved": 0, "masks": 0
    }  # fmt: skip
    assert app_round["seconds_total"] == 10.0 and app_round["reviewers"] == ["ada"]
    assert "relabeled" in invoke("review", "stats", store).output
    from distil.reports.html import write_run_report

    page = write_run_report(tmp_path / "run", {}, []).read_text()
    assert "Review rounds" in page and "<td>app</td>" in page and "1 added" in page


def test_the_next_frame_is_encoded_while_this_one_is_edited(store, tiny_sam):
    from distil.base_models.sam import SamSegmenter

    segmenter = SamSegmenter(tiny_sam, device="cpu")
    encoded: list[int] = []
    embed = segmenter.embed
    segmenter.embed = lambda image: encoded.append(image.shape[0]) or embed(image)
    session = ReviewSession(store, ReviewServeSettings(), segmenter=segmenter)
    first = session.claim("a")
    session._prefetching.join(timeout=60)
    assert len(encoded) == 2  # this frame and the next, before any click
    second = session.claim("a", first)
    session._prefetching.join(timeout=60)
    before = len(encoded)
    session.prompt(second, [[10, 10, 1]])
    assert len(encoded) == before  # its click needed no encoding: prefetched


def test_a_typed_phrase_finds_instances_with_sam3(store, tmp_path, tiny_sam3, tiny_sam):
    """With a SAM 3 model, a phrase becomes new labels of the chosen class (at that class's
    box threshold, here lowered through `--ontology`), with masks a save keeps."""
    from distil.review.app.loading import open_session

    low = tmp_path / "low.yaml"
    low.write_text("box_threshold: 0.01\nclasses:\n  car: car\n  dog: dog\n")
    settings = ReviewServeSettings(
        segmenter="none", text_model=tiny_sam3, ontology=low, device="cpu", prefetch=False
    )
    session = open_session(store, settings)
    client = client_for(session)
    assert client.get("/api/info", headers=HEADERS).json()["text_model"] == tiny_sam3
    frame_id = post(client, "/api/claim", client="a").json()["frame"]
    found = post(client, f"/api/frames/{frame_id}/text", client="a", phrase="red car", class_id=1)
    assert found.status_code == 200, found.text
    labels = found.json()["labels"]
    assert labels and all(label["class_id"] == 1 for label in labels)
    kept = [{**labels[0], "mask": labels[0]["mask"]["id"]}]
    saved = post(client, f"/api/frames/{frame_id}/save", client="a", labels=kept)
    assert saved.status_code == 200, saved.text
    with LabelStore.open(store) as opened:
        (human,) = opened.human_labels(with_masks=True)
    assert human.detections.class_id.tolist() == [1] and human.detections.mask is not None
    empty = post(client, f"/api/frames/{frame_id}/text", client="a", phrase=" ", class_id=1)
    assert empty.status_code == 400
    with pytest.raises(ValueError, match="not a SAM 3"):
        open_session(store, ReviewServeSettings(segmenter="none", text_model=tiny_sam))


def test_sam3s_tracker_answers_clicks_and_its_detector_phrases(store, tiny_sam3_video):
    """With SAM 3's full checkpoint as the text model and no segmenter named, its tracker
    answers clicks and boxes, as SAM 2's would."""
    from distil.base_models.sam import Sam3TrackerSegmenter
    from distil.review.app.loading import open_session

    settings = ReviewServeSettings(text_model=tiny_sam3_video, device="cpu", prefetch=False)
    session = open_session(store, settings)
    assert isinstance(session.segmenter, Sam3TrackerSegmenter)
    client = client_for(session)
    frame_id = post(client, "/api/claim", client="a").json()["frame"]
    for points in ([[20, 20, 1]], [[20, 20, 1], [60, 40, 0]]):
        answer = post(client, f"/api/frames/{frame_id}/prompt", client="a", points=points)
        assert answer.status_code == 200, answer.text
    boxed = post(client, f"/api/frames/{frame_id}/prompt", client="a", box=[5, 5, 40, 30])
    assert boxed.status_code == 200, boxed.text
    found = post(client, f"/api/frames/{frame_id}/text", client="a", phrase="car", class_id=0)
    assert found.status_code == 200, found.text


def test_a_second_server_on_one_store_is_refused(store):
    """Two servers would hand out the same frames: the second names the first and stops
    before ranking or loading a model; the lock goes with the first server."""
    from distil.store.lock import serve_lock
    from distil.store.store import STORE_FILE

    with serve_lock(store / STORE_FILE):
        result = invoke("review", "serve", store, "--segmenter", "none", "--port", "0")
    assert result.exit_code == 2, result.output
    assert "already open in distil review serve" in result.output
    assert f"pid {os.getpid()}" in result.output
    with serve_lock(store / STORE_FILE):  # free again once the first has stopped
        pass
