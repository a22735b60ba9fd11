from distil.reports.preview import annotate, render_preview
from distil.reports.video import annotate_tracks, render_video_preview

__all__ = ["annotate", "annotate_tracks", "render_preview", "render_video_preview"]
