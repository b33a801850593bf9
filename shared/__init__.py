"""cloudsuite-sync library: everything the function adapters call. No azure.functions imports here."""
