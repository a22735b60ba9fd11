"""`distil run`: the stages in order, resumable. Names load on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "config": ["ConfigError", "load_config", "parse_config"],
        "core": ["STAGES", "RunResult", "check_run", "run_pipeline"],
    },
)
