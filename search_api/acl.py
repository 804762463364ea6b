"""The ACL file of ``--auth htpasswd``: who may pull (and so see) which repositories.

::

    anonymous: ["public/*"]
    users:
      alice: ["team-a/*"]
    groups:
      readers: {members: [bob], pull: ["team-b/*", "shared/*"]}

Every user also sees what anonymous sees, and what each group they are a
member of may pull. Patterns are :class:`indexer.visibility.Visibility`
globs. A malformed file is refused with the line at fault, so the service
never starts with an access policy other than the one written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from indexer.visibility import Visibility


class AclError(ValueError):
    """The ACL file is unusable; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Acl:
    """Pull grants: anonymous's, each user's own, and each group's with its members."""

    anonymous: tuple[str, ...] = ()
    users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)  # members, pull

    def visibility(self, user: str | None) -> Visibility:
        """What ``user`` (None: an anonymous caller) may see."""
        patterns = list(self.anonymous)
        if user is not None:
            patterns += self.users.get(user, ())
            for members, pull in self.groups.values():
                if user in members:
                    patterns += pull
        return Visibility(tuple(patterns))


def load_acl(path: Path) -> Acl:
    """Read and check the ACL file at ``path``; raises :class:`AclError`."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise AclError(f"--acl: cannot read {path}: {exc.strerror}") from exc
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        raise AclError(f"--acl {path}, {where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    return _Reader(path).acl(root)


class _Reader:
    """Walks the YAML node tree, so that every problem can name its line."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def acl(self, root: Node | None) -> Acl:
        if root is None:
            return Acl()
        top = self._mapping(root, "the file", ("anonymous", "users", "groups"))
        users = self._mapping(top["users"], "users") if "users" in top else {}
        groups = self._mapping(top["groups"], "groups") if "groups" in top else {}
        return Acl(
            anonymous=self._patterns(top["anonymous"], "anonymous") if "anonymous" in top else (),
            users={name: self._patterns(node, f"users.{name}") for name, node in users.items()},
            groups={name: self._group(node, f"groups.{name}") for name, node in groups.items()},
        )

    def _group(self, node: Node, what: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        parts = self._mapping(node, what, ("members", "pull"))
        for key in ("members", "pull"):
            if key not in parts:
                raise self._error(node, f"{what} needs '{key}'")
        return self._patterns(parts["members"], f"{what}.members"), self._patterns(parts["pull"], f"{what}.pull")

    def _mapping(self, node: Node, what: str, known: tuple[str, ...] | None = None) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self._error(node, f"{what} must be a mapping")
        found: dict[str, Node] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode) or not key.value:
                raise self._error(key, f"{what}: keys must be names")
            if known is not None and key.value not in known:
                raise self._error(key, f"{what}: unknown key '{key.value}' (known: {', '.join(known)})")
            if key.value in found:
                raise self._error(key, f"{what}: '{key.value}' appears twice")
            found[key.value] = value
        return found

    def _patterns(self, node: Node, what: str) -> tuple[str, ...]:
        if not isinstance(node, SequenceNode):
            raise self._error(node, f"{what} must be a list of repository patterns")
        patterns = []
        for item in node.value:
            if not isinstance(item, ScalarNode) or not str(item.value).strip():
                raise self._error(item, f"{what}: every entry must be a non-empty string")
            patterns.append(str(item.value).strip())
        return tuple(patterns)

    def _error(self, node: Node, problem: str) -> AclError:
        return AclError(f"--acl {self._path}, line {node.start_mark.line + 1}: {problem}")
