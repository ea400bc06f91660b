"""FHIR R4 façade and import for the patient archive (built and validated with ``fhir.resources.R4B``)."""
