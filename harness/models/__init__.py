"""Models: checkpoint resolution, loading, chat templates and the backends that turn chat messages
into text and conversations into log-likelihoods."""
