#!/usr/bin/env python
"""Django's command-line utility for the Integration Hub."""

import sys


def main() -> None:
    from config.startup import load_settings_or_exit, require_serving_settings

    if sys.argv[1:2] == ["runserver"]:
        require_serving_settings()
    load_settings_or_exit()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
