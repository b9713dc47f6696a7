"""Root conftest: the project's own tests. The product's fixtures live in the plugin."""
