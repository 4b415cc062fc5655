"""Comment-preserving edits of a ruamel.yaml round-trip document, for ``nested-sweep migrate``.

ruamel keeps a comment on the node *above* it (the last scalar of the previous key, or the
mapping's own comment before its first key), not on the key it describes. These helpers move
keys between mappings so that the lines above a key travel with it, the lines below its value
stay where it was, and comments re-indent when a key moves levels. They know nothing about
sweep files; :mod:`nested_sweeper.migrate.place` and the per-source modules decide what moves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from nested_sweeper.errors import SweepError


def round_trip_yaml() -> Any:
    """A round-trip YAML that writes floats any reader parses and one parameter a line."""
    from ruamel.yaml import YAML
    from ruamel.yaml.representer import RoundTripRepresenter

    class _Representer(RoundTripRepresenter):
        pass

    def float_repr(representer: Any, data: float) -> Any:
        # `1e-05` is a string to YAML 1.1 readers (PyYAML); `1.0e-05` is a float to all.
        text = repr(float(data))
        if "e" in text and "." not in text.split("e")[0]:
            text = text.replace("e", ".0e", 1)
        if text in ("inf", "-inf", "nan"):
            text = {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}[text]
        return representer.represent_scalar("tag:yaml.org,2002:float", text)

    _Representer.add_representer(float, float_repr)
    yaml = YAML()
    yaml.Representer = _Representer
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # one parameter per line, however long
    yaml.preserve_quotes = True
    return yaml


def load(yaml: Any, text: str, file: str) -> Any:
    """The file's root mapping; invalid YAML, an empty file or a non-mapping is a SweepError."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        root = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "invalid YAML"
        raise SweepError(
            f"invalid YAML{where}: {problem}", file=file, fix="fix the YAML syntax"
        ) from None
    except YAMLError as error:
        raise SweepError(f"invalid YAML: {error}", file=file) from None
    if root is None:
        raise SweepError("the file is empty", file=file, fix="nothing to migrate")
    if not isinstance(root, Mapping):
        raise SweepError(
            f"a sweep file is a mapping, got {type(root).__name__}",
            file=file,
            fix="start the file with `sweep:`",
        )
    return root


def new_map(items: Mapping[str, Any] | None = None, *, flow: bool = False) -> Any:
    """A ruamel mapping (``flow``: written on one line, as ``{a: 1}``)."""
    from ruamel.yaml.comments import CommentedMap

    node = CommentedMap(items or {})
    if flow:
        node.fa.set_flow_style()
    return node


def new_list(items: list[Any]) -> Any:
    """A ruamel list written on one line, as ``[1, 2]``."""
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def pop(node: Any, key: str, *, header: bool = False) -> tuple[Any, Any]:
    """Remove ``key`` and return its value with its comments.

    ruamel stores full-line comments with the entry *above* them (its deepest last scalar,
    or the mapping's own comment before its first key). Lines above ``key`` describe it, so
    they travel with it (returned in slot 1 as text, placed by :func:`place_leading`);
    lines below its value describe what follows, so they stay where ``key`` was. ``header``
    is True for the root, whose lines above its first key are the file's header.
    """
    keys = list(node)
    i = keys.index(key)
    lead = "" if header and i == 0 else take_leading(node, keys, i)
    comment = node.ca.items.get(key) if hasattr(node, "ca") else None
    value = node[key]
    del node[key]
    holder, hkey = _deepest(value)
    if holder is not None:  # a block mapping: its last scalar holds the lines below it
        _leave_behind(node, keys, key, holder, hkey)
    moved = list(comment) if comment else [None, None, None, None]
    if len(moved) > 1 and isinstance(moved[1], list):
        # ruamel's own "lines above this key" slot (before a flow-style value): same meaning
        lead = "".join(t.value for t in _tokens(moved[1])) + lead
    if comment and len(comment) > 2 and comment[2] is not None:
        token = comment[2]
        eol, _, rest = token.value.partition("\n")
        if rest.strip() and not _place_rest(node, keys, key, rest):
            return value, _with_lead(comment, lead)  # nowhere better: they move with the key
        moved[2] = _token_like(token, eol + "\n") if eol.strip() else None
    return value, _with_lead(moved, lead)


def lift_leading(node: Any) -> None:
    """ruamel keeps the lines above a nested mapping's first key on the parent's entry; move
    them onto the mapping itself (``ca.comment[1]``, as at the root) so they follow its keys."""
    for key, child in node.items():
        if isinstance(child, Mapping) and hasattr(child, "ca"):
            item = node.ca.items.get(key)
            if item and len(item) > 3 and item[3]:
                old = child.ca.comment or [None, None]
                child.ca.comment = [old[0], item[3]]
                item[3] = None
            lift_leading(child)


def lower_leading(node: Any) -> None:
    """The inverse of :func:`lift_leading`, before dumping (the emitter reads the parent's)."""
    for key, child in node.items():
        if isinstance(child, Mapping) and hasattr(child, "ca"):
            lower_leading(child)
            old = child.ca.comment
            if old and len(old) > 1 and old[1]:
                item = node.ca.items.setdefault(key, [None, None, None, None])
                item[3] = old[1]
                child.ca.comment = [old[0], None]


def store_comment(dst: Any, key: Any, comment: Any) -> None:
    """Attach a comment from :func:`pop` to ``dst[key]``: its end-of-line part on the entry,
    the lines that were above it just above it again."""
    if not comment:
        return
    item = list(comment) + [None] * (4 - len(comment))
    lead = item[1]
    if not isinstance(lead, list):  # ruamel's own token list stays; text is placed below
        item[1] = None
    if any(item):
        dst.ca.items[key] = item
    if isinstance(lead, str) and lead.strip():
        place_leading(dst, key, lead)


def _with_lead(comment: Any, lead: str) -> Any:
    moved = list(comment) + [None] * (4 - len(comment))
    moved[1] = lead or None
    return moved if any(moved) else None


def take_leading(node: Any, keys: list[Any], i: int) -> str:
    """The full-line comments just above ``keys[i]``, removed from where ruamel keeps them."""
    if not hasattr(node, "ca"):
        return ""
    if i == 0:
        current = node.ca.comment
        if not current or len(current) < 2 or not current[1]:
            return ""
        text = "".join(t.value for t in _tokens(current[1]))
        node.ca.comment = [current[0], None]
        return text if text.strip() else ""
    holder, hkey = _deepest(node[keys[i - 1]])
    if holder is None:
        holder, hkey = node, keys[i - 1]
    item = holder.ca.items.get(hkey)
    if not item or len(item) < 3 or item[2] is None:
        return ""
    below: str = item[2].value
    eol, _, rest = below.partition("\n")
    if not rest.strip():
        return ""
    item[2] = _token_like(item[2], eol + "\n") if eol.strip() else None
    return rest


def _deepest(value: Any) -> tuple[Any, Any]:
    """The block mapping and key of the last scalar under ``value`` (None: not a block map)."""
    holder, key = None, None
    while isinstance(value, Mapping) and len(value) and hasattr(value, "ca") \
            and not cast(Any, value).fa.flow_style():  # `ca` tells a ruamel CommentedMap
        holder, key = value, list(value)[-1]
        value = value[key]
    return holder, key


def _leave_behind(node: Any, keys: list[Any], key: Any, holder: Any, hkey: Any) -> None:
    item = holder.ca.items.get(hkey)
    if not item or len(item) < 3 or item[2] is None:
        return
    eol, _, rest = item[2].value.partition("\n")
    if rest.strip() and _place_rest(node, keys, key, rest):
        item[2] = _token_like(item[2], eol + "\n") if eol.strip() else None


def _place_rest(node: Any, keys: list[Any], key: Any, rest: str) -> bool:
    """Put the lines that followed ``key`` where it was: after its predecessor, else before
    its successor (then the first key)."""
    i = keys.index(key)
    if i > 0:
        return _append_trailing(node, keys[i - 1], rest)
    return len(keys) > 1 and _prepend_comment(node, rest)


def place_leading(dst: Any, key: Any, text: str) -> None:
    """Comment lines ``text`` just above ``dst[key]``."""
    keys = list(dst)
    i = keys.index(key)
    if i > 0 and _append_trailing(dst, keys[i - 1], text):
        return
    if i == 0:
        _prepend_comment(dst, text)


def _append_trailing(node: Any, key: Any, rest: str) -> bool:
    """Put comment lines ``rest`` after the last scalar under ``node[key]``; False if none."""
    holder, hkey = _deepest(node.get(key))
    if holder is not None:
        node, key = holder, hkey
    if isinstance(node.get(key), list) or not hasattr(node, "ca"):
        return False
    item = node.ca.items.setdefault(key, [None, None, None, None])
    old = item[2]
    if old is None:
        item[2] = _token_like(None, "\n" + rest)
    else:
        item[2] = _token_like(old, old.value + rest)
    return True


def _prepend_comment(node: Any, rest: str) -> bool:
    """Put comment lines ``rest`` before the first key of ``node``."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    tokens = []
    for line in rest.splitlines():
        text = line.lstrip()
        if text:
            tokens.append(CommentToken(text + "\n", CommentMark(len(line) - len(text)), None))
    if not tokens:
        return False
    current = node.ca.comment or [None, None]
    node.ca.comment = [current[0], [*(current[1] or []), *tokens]]
    return True


def shift_comments(node: Any, by: int) -> None:
    """Indent the comments inside ``node`` by ``by`` columns (the node moved levels)."""
    if not by or not hasattr(node, "ca"):
        return
    ca = node.ca
    ca.comment = shift_tokens(ca.comment, by)
    for key in list(ca.items):
        ca.items[key] = shift_tokens(ca.items[key], by)
    children = node.values() if isinstance(node, Mapping) else node
    for child in children:
        shift_comments(child, by)


def shift_tokens(item: Any, by: int) -> Any:
    """The comment tokens in ``item``, indented by ``by`` columns."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    if isinstance(item, list):
        return [shift_tokens(x, by) for x in item]
    if not isinstance(item, CommentToken) or item.start_mark is None:
        return item
    # Full-line comments after an end-of-line one sit in the same token, indented by spaces.
    value = re.sub(r"\n( *)#", lambda m: "\n" + " " * max(len(m[1]) + by, 0) + "#", item.value)
    return CommentToken(value, CommentMark(max(item.start_mark.column + by, 0)), None)


def block_comment(block: Any, comment: Any) -> Any:
    """The comment for a CARBS block's one-line replacement: the end-of-line comments of its
    lines joined on that line, its full-line comments (a commented-out block below it) kept
    as lines below it, and the lines above it above it."""
    eols: list[str] = []
    lines: list[str] = []
    lead = comment[1] if comment and len(comment) > 1 and isinstance(comment[1], str) else None
    for item in [comment, *(block.ca.items.values() if hasattr(block, "ca") else [])]:
        for token in _tokens(item):
            first, _, rest = token.value.partition("\n")
            if first.strip():
                eols.append(first.strip())
            lines.extend(line for line in rest.splitlines() if line.strip())
    if not eols and not lines:
        return comment
    value = ("  ".join(eols) if eols else "") + "\n" + "".join(f"{line}\n" for line in lines)
    return [None, lead, _token_like(None, value), None]


def indent_comments(text: str) -> str:
    """Full-line comments indented like the line they stand above, as a person writes them
    (a comment that moved levels with its key keeps its old column otherwise)."""
    lines = text.split("\n")
    target = None
    for i in range(len(lines) - 1, -1, -1):
        stripped = lines[i].lstrip()
        if stripped.startswith("#"):
            if target is not None:
                lines[i] = " " * target + stripped
        elif stripped:
            target = len(lines[i]) - len(stripped)
            # a comment after a written flow mapping: two spaces before `#`, as elsewhere
            lines[i] = re.sub(r"\} #(?= )", "}  #", lines[i])
    return "\n".join(lines)


def _tokens(item: Any) -> list[Any]:
    from ruamel.yaml.tokens import CommentToken

    if isinstance(item, CommentToken):
        return [item]
    if isinstance(item, list):
        return [t for x in item for t in _tokens(x)]
    return []


def _token_like(token: Any, value: str) -> Any:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    if token is not None:
        return CommentToken(value, token.start_mark, token.end_mark)
    return CommentToken(value, CommentMark(0), None)


def plain(value: Any) -> Any:
    """A comment-free plain copy, for comparing and showing values."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)
