"""gql-support: an incident-management (support desk) server with a GraphQL API."""
