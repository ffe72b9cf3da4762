"""`harness serve`: an OpenAI-compatible HTTP server over any backend (app), its request models
(requests) and the batching of concurrent requests (batching)."""
