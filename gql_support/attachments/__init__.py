"""Files attached to incidents and comments: storage, limits, and signed download links."""
