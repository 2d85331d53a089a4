#!/usr/bin/env python3
"""A client of tierbox's daemon in Python, standard library only: runs one
task over the documented protocol (docs/daemon.md), with this process's
stdio as the task's, and exits with the task's status.

    tools/tierbox-client.py [--socket PATH] [--tier NAME] [--workspace DIR]
                            [--extra KEY=JSON ...] -- COMMAND [ARGS...]

--extra adds a key to the run message as is (used by the tests to show that
a forged requester field is ignored). The result object is printed to
--result FILE when given.
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys

VERSION = 1
RELAYED = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
           signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT]


def send(sock, message, fds=()):
    body = json.dumps(message).encode()
    frame = struct.pack(">I", len(body)) + body
    if fds:
        socket.send_fds(sock, [frame], list(fds))
    else:
        sock.sendall(frame)


def receive_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def receive(sock):
    header = receive_exactly(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    body = receive_exactly(sock, length)
    return None if body is None else json.loads(body)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", default=os.environ.get("TIERBOX_SOCKET", "/run/tierbox/tierbox.sock"))
    parser.add_argument("--tier")
    parser.add_argument("--workspace")
    parser.add_argument("--result")
    parser.add_argument("--extra", action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(args.socket)
    except (FileNotFoundError, ConnectionRefusedError):
        print(f"tierbox-client: the tierbox daemon is not running at {args.socket}", file=sys.stderr)
        return 125
    fds = [0, 1, 2]
    roles = ["stdin", "stdout", "stderr"]
    if args.workspace:
        fds.append(os.open(args.workspace, os.O_RDONLY | os.O_DIRECTORY))
        roles.append("workspace")
    # The caller's controlling terminal, where the daemon asks a `confirm`
    # rule's question (never stdin); none: such a rule is refused.
    try:
        fds.append(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        roles.append("tty")
    except OSError:
        pass
    message = {"tierbox": VERSION, "type": "run", "argv": command, "fds": roles,
               "cwd": os.getcwd(), "env": dict(os.environ)}
    if args.tier:
        message["tier"] = args.tier
    for extra in args.extra:
        key, _, value = extra.partition("=")
        message[key] = json.loads(value)
    # Signals are relayed to the task while it runs.
    for number in RELAYED:
        signal.signal(number, lambda n, _frame: send(sock, {"tierbox": VERSION, "type": "signal", "signal": int(n)}))
    send(sock, message, fds)
    while True:
        try:
            reply = receive(sock)
        except InterruptedError:
            continue
        if reply is None:
            print("tierbox-client: the daemon closed the connection", file=sys.stderr)
            return 125
        if reply.get("type") == "error":
            print(f"tierbox-client: {reply.get('code')}: {reply.get('message')}", file=sys.stderr)
            return 126 if reply.get("code") == "refused" else 125
        if reply.get("type") == "exit":
            if args.result:
                with open(args.result, "w") as out:
                    json.dump(reply.get("result"), out)
            if reply.get("error"):
                print(f"tierbox-client: {reply['error']}", file=sys.stderr)
            return int(reply["exit_status"])


if __name__ == "__main__":
    sys.exit(main())
