"""Ready-made hubs for tests, benchmarks and the demo: lakes, people, projects, permits and
workspaces built through the real services."""
