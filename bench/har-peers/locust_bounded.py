"""Run a har2locust-generated locustfile for a fixed number of iterations.

har2locust emits one User class with a single @task that replays the whole
recording. Locust has no iteration limit of its own, so this wrapper loads the
generated file (path in HAR_PEERS_LOCUSTFILE), subclasses its User class and
quits the runner after HAR_PEERS_ITERATIONS passes of that task. The
generated code itself is run unchanged. Every request the client makes is
also tallied into HAR_PEERS_CLIENT_JSON (locust's own CSV stats come out
empty when the runner is quit from inside a user).
"""

import importlib.util
import json
import os
from collections import Counter

from locust import User, events
from locust.exception import StopUser

_path = os.environ["HAR_PEERS_LOCUSTFILE"]
_iterations = int(os.environ.get("HAR_PEERS_ITERATIONS", "5"))

_client_json = os.environ.get("HAR_PEERS_CLIENT_JSON")
_tally = {"requests": 0, "failures": 0, "errors": Counter()}


@events.request.add_listener
def _count(request_type, name, exception=None, **_kw):
    _tally["requests"] += 1
    if exception is not None:
        _tally["failures"] += 1
        _tally["errors"][f"{request_type} {name}: {exception!r}"] += 1


@events.quitting.add_listener
def _dump(**_kw):
    if _client_json:
        with open(_client_json, "w") as f:
            json.dump(_tally, f, indent=1)


_spec = importlib.util.spec_from_file_location("har_peers_generated", _path)
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)

_generated = [
    v
    for v in vars(_mod).values()
    if isinstance(v, type) and issubclass(v, User) and v.__module__ == _mod.__name__
]
assert len(_generated) == 1, f"expected one User class in {_path}, got {_generated}"
_Generated = _generated[0]
assert len(_Generated.tasks) == 1, "expected a single recorded task"
_recorded_task = _Generated.tasks[0]


class Bounded(_Generated):
    done = 0

    def replay(self):
        if Bounded.done >= _iterations:
            self.environment.runner.quit()
            raise StopUser()
        _recorded_task(self)
        Bounded.done += 1


# Locust merges a base class's tasks into a subclass's; run only the bounded one.
Bounded.tasks = [Bounded.replay]


# Only Bounded may be visible to locust as a User class.
del _Generated, _generated, _mod
