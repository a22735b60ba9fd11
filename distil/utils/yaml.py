"""Reading YAML that users write: safe types only, bounded size, errors as one short line.

Aliases let a few lines of YAML stand for billions of values ("billion laughs"): the
document is composed first, and refused when it would expand to more than `MAX_VALUES`
values or nest deeper than `MAX_DEPTH`, before anything is built from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from distil.errors import UsageError
from distil.utils.files import read_user_text
from distil.utils.suggest import excerpt

MAX_VALUES = 100_000  # an ontology or run config has hundreds
MAX_DEPTH = 50


class YamlError(UsageError):
    """A file or value that is not valid YAML; the message says where."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {excerpt(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str) -> Any:
    """Safe-load one YAML document: no Python tags, no duplicate keys, bounded expansion
    and depth."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise YamlError(f"invalid YAML{at}: {str(problem)[:200]}") from None
    except RecursionError:
        raise YamlError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()


def _check_size(root: yaml.Node) -> None:
    """Count the values `root` expands to (aliases counted every time they are used) and
    its depth, without expanding it: each distinct node is visited once."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth)
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = _children(node)
        if children_done:
            on_path.discard(key)
            values = 1 + sum(sizes[id(c)][0] for c in children)
            depth = 1 + max((sizes[id(c)][1] for c in children), default=0)
            if values > MAX_VALUES:
                raise YamlError(
                    f"YAML expands to more than {MAX_VALUES} values (aliases of aliases?): refused"
                )
            if depth > MAX_DEPTH:
                raise YamlError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep")
            sizes[key] = (values, depth)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlError("invalid YAML: an alias refers to itself")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_yaml(path: Path) -> Any:
    """Safe-load a YAML file (a regular file of at most `MAX_CONFIG_BYTES`: never a pipe or
    a device); FileNotFoundError when it is missing."""
    return parse_yaml(read_user_text(Path(path)))
