"""Request models (strictly typed JSON bodies) and presenters of response objects."""
