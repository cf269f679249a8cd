"""The HTTP application of `launch.serve`: SGLang's native endpoints (server.py) plus the
OpenAI-compatible ones (openai_api.py) on one aiohttp app."""

from __future__ import annotations

from aiohttp import web

from xcoder_jax.rollout import openai_api
from xcoder_jax.rollout import server as server_lib


def make_app(server: server_lib.PolicyServer) -> web.Application:
  """The aiohttp application: native SGLang endpoints plus the OpenAI-compatible ones."""
  app = web.Application(
    middlewares=[server_lib.error_responses], client_max_size=server_lib.MAX_BODY_BYTES
  )
  native = server_lib.NativeApi(server)
  for method in ("POST", "PUT"):
    app.router.add_route(method, "/generate", native.generate)
  app.router.add_post("/update_weights_from_disk", native.update_weights_from_disk)
  for method in ("GET", "POST"):
    app.router.add_route(method, "/flush_cache", native.flush_cache)
  app.router.add_get("/health", native.health)
  app.router.add_get("/health_generate", native.health_generate)
  app.router.add_get("/get_model_info", native.get_model_info)
  app.router.add_get("/get_server_info", native.get_server_info)
  openai_api.add_routes(app, server)
  return app
