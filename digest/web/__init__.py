"""The web app: editors preview and approve, subscribers manage their subscription, SendGrid
posts events. ``app.create_app(config)`` builds it; ``digest serve`` runs it under uvicorn."""
