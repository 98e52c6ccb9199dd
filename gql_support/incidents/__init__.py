"""Incidents: models, the status workflow, the service every mutation calls, and the queries."""
