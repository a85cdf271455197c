"""One module per [section] of the config file; config/keys.py lists them."""
