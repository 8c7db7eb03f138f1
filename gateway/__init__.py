"""Homecare Gateway: NHS homecare prescriptions from trust systems to homecare providers as EPS-shaped FHIR."""

__version__ = "0.1.0"
