"""Pattern recognizers too large for :mod:`modelyard.privacy.detect`; that module wraps them and stays the API."""
