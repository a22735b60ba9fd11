"""distil: auto-label images with open-vocabulary teachers, distil into a small YOLO."""

__version__ = "0.1.0"

from distil.ontologies import Ontology, OntologyClass, OntologyError  # noqa: E402

__all__ = ["Ontology", "OntologyClass", "OntologyError", "__version__"]
