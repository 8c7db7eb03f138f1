"""Invoicing (issue 20): from delivery to payment.

In: a provider's EPS dispensing Claim, FHIR R4 Invoice or CSV invoice (`intake`), read into billed lines
(`claim`, `fhir_invoice`, `csv_invoice` → `billed`), each line reconciled against the gateway's own record and the
trust–provider price list (`reconcile`, `prices`). Out: the trust's decisions (`decisions`), the invoice read back
as JSON or FHIR (`views`), and spend per trust, provider, medicine and month (`spend`). docs/invoicing.md.
"""
