"""`distil review serve`: correct a label store's frames in a browser, most likely wrong
first, with the segmenter answering clicks and boxes; saves are human labels in the store.

>>> session = ReviewSession(Path("runs/label/exp"), ReviewServeSettings())  # doctest: +SKIP
>>> serve(session, "127.0.0.1", 8765, on_ready=print)  # doctest: +SKIP
"""

from distil.review.app.server import create_app, serve
from distil.review.app.session import ReviewSession

__all__ = ["ReviewSession", "create_app", "serve"]
