"""Named-entity recognition: IOB2 token classification with entity spans in and out."""
