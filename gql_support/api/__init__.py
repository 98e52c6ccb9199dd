"""The GraphQL transport: Strawberry types, resolvers, DataLoaders and the Starlette app."""
