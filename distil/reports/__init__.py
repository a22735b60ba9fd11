"""Preview grids, video previews, plots and the HTML run report. Names load on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "html": ["write_run_report"],
        "preview": ["annotate", "render_preview"],
        "video": ["annotate_tracks", "render_video_preview"],
    },
)
