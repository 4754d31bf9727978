"""``python -m remotevars.server``: the same as ``remotevars serve``."""

from __future__ import annotations

from remotevars.cli.serve import serve

if __name__ == '__main__':
    serve(prog_name='python -m remotevars.server')
