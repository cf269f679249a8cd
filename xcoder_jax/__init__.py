"""xcoder-jax: X-Coder reproduction in JAX."""
