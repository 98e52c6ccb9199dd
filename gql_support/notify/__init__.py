"""Email notifications: the outbox written with each change, and the sender that drains it."""
