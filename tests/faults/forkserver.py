"""A fork server for kill loops: import the daemon once, fork a fresh ``k8s-monitor run`` per kill.

Importing the Anthropic SDK alone costs seconds of CPU; hundreds of kill-and-restart rounds
would spend their time importing. This process imports everything once, then for each
``spawn LOGFILE`` line on stdin creates LOGFILE, forks a child that runs the real CLI entry point
(``k8s_monitor.cli.main(["run"])``) with its output in LOGFILE, and prints the child's pid.
``wait PID`` reaps a child (after the test killed it) and prints its wait status. The children
are ordinary processes: SIGKILL ends them mid-instruction, exactly as in a pod.

Run as ``python -m tests.faults.forkserver``; settings come from the environment.
"""

from __future__ import annotations

import os
import sys


def _child(log_fd: int) -> None:
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    code = 70
    try:
        from k8s_monitor.cli import main

        code = main(["run"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    # Warm every heavy import the daemon needs, so each fork starts in milliseconds.
    import k8s_monitor.cli
    import k8s_monitor.cli.run
    import k8s_monitor.daemon
    import k8s_monitor.wiring  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "spawn":
            # The log file exists before the pid is printed: a kill can land before the child
            # has run a single instruction (a busy machine may not schedule it for a while),
            # and the test reads the log after every kill.
            log_fd = os.open(argument, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            pid = os.fork()
            if pid == 0:
                _child(log_fd)
            os.close(log_fd)
            print(pid, flush=True)
        elif command == "wait":
            _, status = os.waitpid(int(argument), 0)
            print(status, flush=True)
        elif command == "quit":
            return


if __name__ == "__main__":
    serve()
