"""The files passed between stages, each defined once: fields, types, required or not, and
a ``schema`` version.

========================  ===================================  ==========================
file                      written by                           read by
========================  ===================================  ==========================
``pool.json``             ``harness.pool.writer``              ``harness.pool.layout``
subset manifest (.json)   ``harness.select.engine``            train, leaderboard, submit
``train.json``            ``harness.train.trainer``            train (resume), evaluate,
                                                               submit
``eval_results.jsonl``    ``harness.evaluate.results``         evaluate (resume),
  (one line)                                                   leaderboard
``runtime.json``          ``harness.train.entry`` (the child)  ``harness.train.trainer``
========================  ===================================  ==========================

Writers pass their dict through ``stamp`` (required fields and types checked, ``schema``
set); readers pass what they read through ``validate`` (or ``read_json``), which checks the
same and gives a one-line error naming the file and the field. Files of every earlier
release stay readable: a file without ``schema`` is version 0, and a field's earlier
names (``old``) are accepted on read only and copied to the one current name (the pool
fingerprint is ``pool_fingerprint``, a subset's hash ``subset_sha256``). A file written by a
newer selbench (a larger ``schema``) is refused with a message saying so. Fields a schema
does not list are kept as they are.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SelbenchError

NUMBER = (int, float)


@dataclass(frozen=True)
class Field:
    """One field: dotted ``name``, accepted ``types``, ``required``, earlier names ``old``."""

    name: str
    types: tuple
    required: bool = False
    old: tuple[str, ...] = ()
    nullable: bool = False


@dataclass(frozen=True)
class Schema:
    """The fields of one kind of file and the version written now."""

    kind: str
    version: int
    fields: tuple[Field, ...]


POOL_INFO = Schema("pool.json", 1, (
    Field("name", (str,), required=True),
    Field("size", (int,), required=True),
    Field("embedding_keys", (dict,), required=True),
    Field("fingerprint", (str,), required=True),
    Field("embedding", (str,)),
    Field("teacher", (str, dict)),
    Field("suite", (str,)),
    Field("evalsets", (str,)),
    Field("imagenet_analog", (str,)),
))

SUBSET_MANIFEST = Schema("subset manifest", 1, (
    Field("strategy", (str,), required=True),
    Field("version", (str,)),
    Field("variant", (str,)),
    Field("params", (dict,), required=True),
    Field("budget", (dict,), required=True),
    Field("seed", (int,), required=True),
    Field("pool_fingerprint", (str,), old=("pool.fingerprint",)),
    Field("inputs", (dict,)),
    Field("pool", (dict,)),
    Field("selected", (int,)),
    Field("subset", (str,)),
    Field("subset_sha256", (str,), required=True, old=("sha256",)),
    Field("wall_time_s", NUMBER),
    Field("extra", (dict,)),
    Field("audit", (dict,)),
    Field("versions", (dict,)),
))

TRAIN_INFO = Schema("train.json", 1, (
    Field("scale", (str,), required=True),
    Field("scale_params", (dict,)),
    Field("seed", (int,), required=True),
    Field("subset_sha256", (str,), required=True),
    Field("pool_fingerprint", (str,)),
    Field("model", (str,)),
    Field("selection", (dict,)),
    Field("checkpoint", (str,)),
    Field("checkpoint_sha256", (str,)),
    Field("samples_seen", (int,)),
    Field("wall_time_s", NUMBER),
    Field("final_loss", NUMBER, nullable=True),
    Field("versions", (dict,)),
))

RESULT_LINE = Schema("eval_results.jsonl line", 1, (
    Field("key", (str,), required=True),
    Field("dataset", (str,), required=True),
    Field("metrics", (dict,), required=True),
    Field("metrics.main_metric", NUMBER, required=True, nullable=True),
    Field("run", (dict,)),
    Field("run.subset_sha256", (str,), nullable=True, old=("run.sha256",)),
))

RUNTIME = Schema("runtime.json", 1, (
    Field("device", (str,), nullable=True),
    Field("threads", (int,), nullable=True),
    Field("fused_adamw", (bool,), nullable=True),
))

SCHEMAS = {s.kind: s for s in (POOL_INFO, SUBSET_MANIFEST, TRAIN_INFO, RESULT_LINE, RUNTIME)}


class SchemaError(SelbenchError):
    """A hand-off file that breaks its schema; ``detail`` is the message without the file."""

    def __init__(self, where: str, detail: str):
        super().__init__(f"{where}: {detail}")
        self.detail = detail


def _get(data: dict, dotted: str):
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _set(data: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


_MISSING = object()


def _type_name(types: tuple) -> str:
    if float in types:
        types = tuple(t for t in types if t is not int)  # an integer is a number
    names = {int: "an integer", float: "a number", str: "a string", dict: "an object",
             bool: "true or false", list: "a list"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _check(schema: Schema, data, where: str) -> dict:
    if not isinstance(data, dict):
        raise SchemaError(where, f"not a JSON object (a {schema.kind} is one; got "
                                 f"{type(data).__name__})")
    version = data.get("schema", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise SchemaError(where, f"field 'schema' must be a whole number, got {version!r}")
    if version > schema.version:
        raise SchemaError(where, f"schema {version} is newer than this selbench reads "
                                 f"({schema.kind} schema {schema.version}); upgrade selbench")
    for f in schema.fields:
        value = _get(data, f.name)
        if value is _MISSING:
            if f.required:
                raise SchemaError(where, f"required field {f.name!r} is missing")
            continue
        if value is None and f.nullable:
            continue
        ok = isinstance(value, f.types) and not (isinstance(value, bool) and bool not in f.types)
        if not ok:  # ranges (a finite metric in [0, 1], say) are the reader's to check
            raise SchemaError(where, f"field {f.name!r} is not {_type_name(f.types)}"
                                     f"{' (or null)' if f.nullable else ''}, got {value!r:.60}")
    return data


def validate(kind: str, data, where: str) -> dict:
    """``data`` read from a ``kind`` file, checked, with earlier field names copied to the
    current ones (a new dict; the input is not changed). Raises ``SchemaError`` naming
    ``where`` (the file, and line for JSON lines) and the field."""
    schema = SCHEMAS[kind]
    if isinstance(data, dict):
        data = json.loads(json.dumps(data))  # a deep copy of plain JSON
        for f in schema.fields:
            if _get(data, f.name) is _MISSING:
                for old in f.old:
                    value = _get(data, old)
                    if value is not _MISSING:
                        _set(data, f.name, value)
                        break
    return _check(schema, data, where)


def stamp(kind: str, data: dict, where: str = "") -> dict:
    """``data`` about to be written as a ``kind`` file, with ``schema`` set to the current
    version; a missing required field or a wrong type is a ``SchemaError`` (a bug in the
    writer, caught before the file exists)."""
    schema = SCHEMAS[kind]
    out = dict(data, schema=schema.version)
    for f in schema.fields:
        for old in f.old:
            if "." not in old and old in out and f.name in out:
                raise SchemaError(where or kind, f"writes both {old!r} and {f.name!r}")
    return _check(schema, out, where or kind)


def read_json(kind: str, path: str | Path) -> dict:
    """Read and ``validate`` a JSON ``kind`` file; unreadable JSON is a one-line error."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SelbenchError(f"{path}: not valid JSON ({exc.__class__.__name__}: "
                            f"{' '.join(str(exc).split())})") from exc
    return validate(kind, data, str(path))
