from distil.pipeline.config import ConfigError, RunConfig, load_config, parse_config
from distil.pipeline.core import STAGES, RunResult, run_pipeline

__all__ = [
    "STAGES",
    "ConfigError",
    "RunConfig",
    "RunResult",
    "load_config",
    "parse_config",
    "run_pipeline",
]
