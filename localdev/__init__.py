"""Local development stack (never deployed): Azurite launcher, functions host, simulators, demo."""
