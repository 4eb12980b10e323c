"""`make run`'s last step: prepare the embedded hub and hand over to supervisord.

One process does what used to take four (`migrate`, `setup_periodic_tasks`, `sandbox
--init-ca`, `bootstrap_demo`), so Django starts once instead of four times, then it becomes
supervisord, which runs web, worker, beat and the sandboxes and starts again any that dies
(honcho, before it, stopped them all when one died).
"""

import io
import os
import shutil
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from integrations.sandbox.tls import ensure_ca

# name -> (command, seconds a stop may take before the group is killed, whether the stop
# signal goes to the whole group). The worker alone gets it, not its pool: it stops the pool
# itself after a warm shutdown (a pool process signalled directly dies mid-task and is
# replaced, and the worker takes new tasks while it should be stopping). Whatever it still
# holds goes back to the queue by the broker's lease, so a kill loses nothing.
PROCESSES = {
    # The checks ran with migrate just before; runserver would repeat them at each start.
    "web": ("{python} manage.py runserver --skip-checks 127.0.0.1:{port}", 10, True),
    "worker": ("{python} -m celery -A config worker --loglevel=INFO", 30, False),
    "beat": ("{python} -m celery -A config beat --loglevel=INFO --pidfile=", 10, True),
    "sandbox": ("{python} manage.py sandbox", 10, True),
}

SUPERVISORD = """\
; Written by `manage.py run_embedded` at each start; edit PROCESSES there instead.
[supervisord]
nodaemon = true
logfile = {var}/supervisord.log
logfile_maxbytes = 5MB
logfile_backups = 2
pidfile = {var}/supervisord.pid
directory = {base}

[unix_http_server]
file = {var}/supervisor.sock
chmod = 0700

[supervisorctl]
serverurl = unix://{var}/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""

# Restarted whenever it exits (startretries counts quick deaths in a row, each waited out a
# second longer than the last); output to this terminal; the whole process group killed if
# a stop takes too long (runserver's reloader and the worker's pool have children).
PROGRAM = """
[program:{name}]
command = {command}
directory = {base}
autorestart = true
startsecs = 2
startretries = 1000
stopasgroup = {stop_as_group}
killasgroup = true
stopwaitsecs = {stop_wait}
redirect_stderr = true
stdout_logfile = /dev/stdout
stdout_logfile_maxbytes = 0
"""


def supervisord_config(*, port: int) -> str:
    base, var = settings.BASE_DIR, settings.VAR_DIR
    return SUPERVISORD.format(var=var, base=base) + "".join(
        PROGRAM.format(
            name=name,
            command=command.format(python=sys.executable, port=port),
            stop_wait=wait,
            stop_as_group=str(as_group).lower(),
            base=base,
        )
        for name, (command, wait, as_group) in PROCESSES.items()
    )


class Command(BaseCommand):
    help = (
        "Migrate, write the beat schedule, make the sandbox CA and the demo data, print the "
        "login, then run web, worker, beat and the sandboxes under supervisord (a process that "
        "dies is restarted). `make run` calls this."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="the web server's port")
        parser.add_argument(
            "--prepare-only", action="store_true", help="prepare, print the login, do not start"
        )

    def handle(self, *args, port, prepare_only, **options):
        # Beside this Python (the venv's bin, which need not be on PATH), else on PATH.
        supervisord = shutil.which("supervisord", path=os.path.dirname(sys.executable))
        supervisord = supervisord or shutil.which("supervisord")
        if supervisord is None and not prepare_only:
            raise CommandError(
                "supervisord is not installed in this environment: run `make run`, which "
                "installs requirements/base.txt"
            )
        url = f"http://127.0.0.1:{port}/"
        call_command("migrate", interactive=False, verbosity=0)
        call_command("setup_periodic_tasks", stdout=io.StringIO())
        ensure_ca(settings.SANDBOX_DIR)
        call_command("bootstrap_demo", url=url, stdout=self.stdout)
        if prepare_only:
            return
        config = settings.VAR_DIR / "supervisord.conf"
        config.write_text(supervisord_config(port=port))
        self.stdout.write(f"Starting web, worker, beat and sandboxes (Ctrl-C stops them): {url}")
        self.stdout.flush()
        connections.close_all()
        sys.stderr.flush()
        os.execv(supervisord, [supervisord, "-c", str(config)])  # noqa: S606 - a fixed argv
