"""The sync pipeline: poll -> transform -> write, with replay. One module per function's logic."""
