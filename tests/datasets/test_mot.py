import numpy as np
import pytest
import supervision as sv

from distil.datasets.formats.mot import mot_rows, read_mot, write_mot


def test_written_rows_read_back_sorted_by_frame_then_track(tmp_path):
    detections = sv.Detections(
        xyxy=np.array([[10.0, 20.0, 40.0, 60.0], [0.0, 0.0, 5.0, 5.0]]),
        confidence=np.array([0.9, 0.5]),
        class_id=np.array([1, 0]),
        tracker_id=np.array([3, 2]),
    )
    path = tmp_path / "clip.txt"
    write_mot(path, mot_rows(4, detections) + mot_rows(0, detections))
    rows = read_mot(path)
    assert rows[:, :2].tolist() == [[1, 2], [1, 3], [5, 2], [5, 3]]
    assert rows[1, 2:9].tolist() == [10.0, 20.0, 30.0, 40.0, 0.9, 1.0, -1.0]


def test_ground_truth_rows_marked_ignore_are_dropped(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,1,0,0,10,10,1,1,1.0\n1,2,50,50,10,10,0,7,0.2\n2,1,1,0,10,10,1,1,1.0\n")
    assert read_mot(path)[:, :2].tolist() == [[1, 1], [2, 1]]


def test_a_file_that_is_not_mot_fails_naming_it(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("frame id left\n")
    with pytest.raises(ValueError, match="notes.txt: not a MOT file"):
        read_mot(path)
    path.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="at least 6 columns"):
        read_mot(path)
