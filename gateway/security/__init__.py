"""Client authentication (private_key_jwt), access tokens and the authenticated principal."""
