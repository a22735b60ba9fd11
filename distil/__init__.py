"""distil: auto-label images with open-vocabulary teachers, distil into a small YOLO."""

from distil.ontologies import Ontology, OntologyClass, OntologyError  # noqa: E402
from distil.version import RELEASE as __version__

__all__ = ["Ontology", "OntologyClass", "OntologyError", "__version__"]
