"""Page routes, one module per audience: the public, signing in, owners, verifiers, the registrar."""
