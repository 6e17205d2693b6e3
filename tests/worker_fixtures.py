"""Helpers for tests of work run in other processes (process pools, Ray)."""


def counting_fn(log_dir):
    """A callable that leaves one file in ``log_dir`` each time it is unpickled (name: the pid)."""
    import os
    import uuid

    class Double:
        def __init__(self):
            self.payload = list(range(2000))

        def __setstate__(self, state):
            self.__dict__.update(state)
            (log_dir / f"{os.getpid()}-{uuid.uuid4().hex}").touch()

        def __call__(self, item):
            return item * 2

    return Double()

