"""Pascal VOC: write -> read gives the same boxes and classes; what other tools write
(1-based integer corners, decimals) reads as expected; bad files are refused by name."""

from __future__ import annotations

import re

import numpy as np
import pytest
import supervision as sv

from distil.datasets.formats import read_voc, read_voc_text, voc_xml, write_voc
from distil.detections import empty_detections

NAMES = ["car", "person in hi-vis vest", "dog"]


@pytest.mark.parametrize(
    ("xyxy", "classes"),
    [
        ([[0, 0, 10, 20], [5.5, 6.25, 100, 80.75]], [0, 1]),
        ([[12, 3, 639, 479]], [2]),
        ([], []),
    ],
)
def test_write_then_read_gives_the_same_labels(tmp_path, xyxy, classes):
    detections = (
        sv.Detections(xyxy=np.array(xyxy, np.float32), class_id=np.array(classes))
        if xyxy
        else empty_detections()
    )
    write_voc(tmp_path / "a.xml", "a.jpg", 640, 480, detections, NAMES)
    read = read_voc(tmp_path / "a.xml", NAMES)
    assert (read.filename, read.width, read.height) == ("a.jpg", 640, 480)
    # VOC holds whole pixels: boxes come back rounded, as VOC readers expect integers.
    np.testing.assert_allclose(read.detections.xyxy, np.round(detections.xyxy.reshape(-1, 4)))
    np.testing.assert_array_equal(read.detections.class_id, detections.class_id)


def test_reads_what_labeling_tools_write():
    text = """<annotation><filename>x.jpg</filename>
      <size><width>100</width><height>50</height><depth>3</depth></size>
      <object><name>dog</name><difficult>0</difficult>
        <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>100</xmax><ymax>50.5</ymax></bndbox>
      </object></annotation>"""
    read = read_voc_text(text, NAMES)
    np.testing.assert_allclose(read.detections.xyxy, [[0, 0, 100, 50.5]])
    assert read.detections.class_id.tolist() == [2]


def test_whole_pixels_are_written_as_integers():
    detections = sv.Detections(xyxy=np.array([[0, 0, 10, 20]], np.float32), class_id=np.array([0]))
    assert "<xmin>1</xmin>" in voc_xml("a.jpg", 64, 64, detections, NAMES)
    detections.xyxy = np.array([[10.4, 0.0, 20.6, 5.2]], np.float32)
    text = voc_xml("a.jpg", 64, 64, detections, NAMES)
    assert (
        "<xmin>11</xmin>" in text
        and "<xmax>21</xmax>" in text
        and "." not in text.split("<bndbox>")[1]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<annotation><object><name>cat</name></object></annotation>",
         "unknown class 'cat'; the classes are: car, person in hi-vis vest, dog"),
        ("<annotation><object><name>car</name></object></annotation>", "has no bndbox"),
        ("<annotation><object><name>car</name><bndbox><xmin>a</xmin></bndbox></object>"
         "</annotation>", "<xmin> is 'a', not a number"),
        ("not xml", "not a readable VOC XML file"),
        ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "bbbb">]><annotation>&b;</annotation>',
         "not a readable VOC XML file"),  # entities are refused, never expanded
    ],
)  # fmt: skip
def test_bad_files_are_refused_naming_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(ValueError, match="^" + re.escape(f"{path}: ")) as refused:
        read_voc(path, NAMES)
    assert message in str(refused.value)
