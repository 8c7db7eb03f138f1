"""The EPS FHIR adapter: `prescription-order` and `prescription-order-update` message Bundles, as EPRs send them."""

from adapters.fhir.ids import EpsIds, eps_ids
from adapters.fhir.parser import FhirAdapter, parse_bundle

__all__ = ["EpsIds", "FhirAdapter", "eps_ids", "parse_bundle"]
