"""Starts `flask ...` commands as processes forked from one that imported the app once.

A worker started with `python -m flask` spends most of its start importing the app (seconds,
tens of seconds on a busy machine); the stop tests start workers many times. This process
imports the app's modules once and then, for each line on stdin (a JSON ``[args, env,
output]``), forks a child that runs the `flask` command line exactly as the command does: its
own environment, app built by Flask's CLI, output to the file ``output``, and its exit code
the process's own, after the interpreter's normal shutdown. It answers each line with the
child's pid and, when the child has exited, writes its exit code to ``output + ".exit"``.
"""

import json
import os
import sys

import flask.cli

import portal  # noqa: F401 - the cost shared by every child
import portal.cli  # noqa: F401


def _child(args: list[str], env: dict[str, str], output: str) -> None:
    os.environ.clear()
    os.environ.update(env)
    out = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(out, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    sys.argv = ["flask", *args]
    flask.cli.main()  # exits with the command's code, as `flask` does
    sys.exit(0)


def main() -> None:
    """One child at a time: a test stops (or kills) its worker before it starts another."""
    for line in sys.stdin:
        args, env, output = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(args, env, output)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        with open(output + ".part", "w") as done:
            done.write(str(os.waitstatus_to_exitcode(status)))
        os.replace(output + ".part", output + ".exit")


if __name__ == "__main__":
    main()
