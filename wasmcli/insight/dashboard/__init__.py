"""The dashboard: one self-contained HTML file (data.py gathers, svg.py draws, page.py
writes) and a local server that keeps it current (serve.py)."""
