import numpy as np
import pytest
from pycocotools import mask as mask_utils

from distil.utils.rle import decode_masks, encode_masks


@pytest.mark.parametrize(("count", "height", "width"), [(0, 4, 5), (1, 7, 3), (5, 48, 64)])
def test_masks_round_trip_and_match_pycocotools(count, height, width):
    masks = np.random.default_rng(count).random((count, height, width)) > 0.6
    encoded = encode_masks(masks)
    np.testing.assert_array_equal(decode_masks(encoded, height, width), masks)
    if count:
        plain = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
        assert [r["counts"] for r in encoded] == [r["counts"].decode() for r in plain]
