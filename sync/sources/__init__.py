"""Where hints come from: polling by cursor, webhooks, the nightly reconcile, the inbox."""
