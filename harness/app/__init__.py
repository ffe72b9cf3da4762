"""Use cases: the flows behind each command (run, score, rescore, train, watch, chat, merge, sweep,
lab report). They may import every other layer; nothing below imports them."""
