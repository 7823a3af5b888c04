"""HTTP of API keys (admin): create (the key is shown once), list, revoke."""
