from distil.ontologies.core import Ontology, OntologyClass, OntologyError

__all__ = ["Ontology", "OntologyClass", "OntologyError"]
