"""The web page: its layout, its wiring, the public endpoints, the words a visitor reads, its CSS and JavaScript."""
