"""A spec's SQL, parsed in a forked child while the parent validates the rest of the spec.

Importing sqlglot (and jinja2, for the query's placeholders) and the first parse take about
90 ms on the 2-core CI machine: as long as validating and checking the rest of a spec. A
command that reads a spec with a SQL source forks a child as soon as it has the spec's bytes;
the child imports the parsers while the parent builds and checks the spec, and answers the
parse requests of spec/sql.py when the checks reach the SQL sources (`mlspec validate` on
customer-churn: 2.9x the import floor in one process, under 2x with the child).

Only a command opts in (`allowed()`, around validate and compile): a process that has threads
must not fork (a thread may hold a lock the child then waits on forever), so the language
server, a test runner with worker threads, or anything else parses in process, with the same
functions and the same results. Whatever goes wrong with the child (it cannot be forked, it
dies, it answers nonsense) is answered in process instead: the child only ever saves time.

The child is this program: it runs only the functions of ANSWERS on what the parent sends,
writes only to its pipe, and leaves with os._exit, so it runs none of the parent's exit
handlers and flushes none of its buffers.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import threading

_HEADER = struct.Struct("!I")
_allowed_in: int | None = None  # the process (pid) that opted in: not the processes it forks
_worker: "_Worker | None" = None


@contextlib.contextmanager
def allowed():
    """Within this block, reading a spec with SQL may start the child (see the module)."""
    global _allowed_in
    _allowed_in = os.getpid()
    try:
        yield
    finally:
        _allowed_in = None
        stop()


def start_if_useful(raw: bytes, answers: dict, warm_up) -> None:
    """Fork the child when the spec's bytes may hold a SQL source and forking is safe. The child
    calls `warm_up()`, then answers `ask(name, *args)` with `answers[name](*args)`."""
    global _worker
    if _worker is not None or _allowed_in != os.getpid() or b"sql" not in raw or not hasattr(os, "fork"):
        return
    if threading.active_count() != 1:
        return
    _worker = _Worker.fork(answers, warm_up)


def ask(function: str, *args):
    """The child's answer to `function(*args)` (a name in its `answers`), or None when there is
    no child or it could not answer (the caller then computes it in process)."""
    global _worker
    if _worker is None or _worker.parent != os.getpid():  # a process forked since has no child of its own
        return None
    answer = _worker.ask(function, args)
    if answer is None:
        _worker.close()
        _worker = None
    return answer


def stop() -> None:
    global _worker
    if _worker is not None and _worker.parent == os.getpid():
        _worker.close()
    _worker = None


class _Worker:
    def __init__(self, pid: int, requests: int, answers: int) -> None:
        self.pid, self.requests, self.answers = pid, requests, answers
        self.parent = os.getpid()

    @classmethod
    def fork(cls, answers: dict, warm_up) -> "_Worker | None":
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (request_read, request_write, answer_read, answer_write):
                os.close(fd)
            return None
        if pid == 0:  # the child
            os.close(request_write)
            os.close(answer_read)
            _serve(request_read, answer_write, answers, warm_up)  # never returns
        os.close(request_read)
        os.close(answer_write)
        return cls(pid, request_write, answer_read)

    def ask(self, function: str, args: tuple):
        try:
            _send(self.requests, (function, args))
            status, value = _receive(self.answers)
        except (OSError, EOFError, pickle.PickleError, ValueError, TypeError, AttributeError):
            return None
        return value if status == "ok" else None

    def close(self) -> None:
        for fd in (self.requests, self.answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):  # the child leaves when its request pipe closes
            os.waitpid(self.pid, 0)


def _serve(requests: int, answers: int, table: dict, warm_up) -> None:
    code = 0
    try:
        warm_up()  # imports the parsers now, while the parent is busy
        while True:
            try:
                function, args = _receive(requests)
            except EOFError:
                break
            try:
                _send(answers, ("ok", table[function](*args)))
            except Exception as exc:  # noqa: BLE001 - the parent computes it in process, and says why
                _send(answers, ("error", repr(exc)))
    except BaseException:  # noqa: BLE001 - whatever happens, the child leaves quietly
        code = 1
    finally:
        os._exit(code)


def _send(fd: int, value) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    payload = _HEADER.pack(len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _receive(fd: int):
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    return pickle.loads(_read_exactly(fd, size))


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
