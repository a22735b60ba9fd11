from distil.reports.preview import annotate, render_preview

__all__ = ["annotate", "render_preview"]
