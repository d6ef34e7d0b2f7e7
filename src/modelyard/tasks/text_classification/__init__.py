"""Text classification: single-label and multi-label sequence classification."""
