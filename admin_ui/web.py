"""The web process: Daphne's command line with an access log that redacts webhook tokens.

Usage is Daphne's own: `python -m admin_ui.web -b 127.0.0.1 -p 8000 admin_ui.asgi:application`.
"""

from __future__ import annotations

import daphne.cli

from admin_ui.logredact import RedactingAccessLogGenerator


def main() -> None:
    # daphne.cli builds its access logger from this module-level name.
    daphne.cli.AccessLogGenerator = RedactingAccessLogGenerator  # type: ignore[misc]
    daphne.cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
