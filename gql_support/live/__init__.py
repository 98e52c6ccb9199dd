"""The event bus behind subscriptions: what changed, published after it was committed."""
