"""Data: readers, validation, splits, dataset versions and fetching of public data sets."""
