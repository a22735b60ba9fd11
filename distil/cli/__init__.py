from distil.cli.main import app, run

__all__ = ["app", "run"]
