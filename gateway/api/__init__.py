"""HTTP layer: thin FastAPI routes over the service layer."""
