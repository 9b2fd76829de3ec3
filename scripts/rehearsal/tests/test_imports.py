"""The package's modules import one another one way: no cycle, counting the imports made only for
type checking (issue 22: agent ↔ core ↔ ecs_hooks once needed one another)."""

from __future__ import annotations

import ast
import unittest
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rehearsal"


def imports(module: Path) -> set[str]:
    """The package's modules `module` imports, wherever the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(), str(module))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rehearsal."):
            found.add(node.module.split(".")[1])
    return found


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as the path that closes it, or None."""
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "open"
        for nxt in sorted(graph.get(name, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [name, nxt] if nxt in path else path + [name, nxt]
            if nxt not in state and (found := visit(nxt, path + [name])):
                return found
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name, [])):
            return found
    return None


class ImportTests(unittest.TestCase):
    def test_the_modules_import_one_another_without_a_cycle(self):
        graph = {p.stem: imports(p) for p in PACKAGE.glob("*.py")}
        self.assertIn("agent", graph["core"], "the graph is read (core imports agent)")
        found = cycle(graph)
        self.assertIsNone(found, "import cycle: " + " → ".join(found or []))

    def test_a_cycle_is_found(self):
        self.assertEqual(cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}), ["a", "b", "c", "a"])
        self.assertIsNone(cycle({"a": {"b"}, "b": {"c"}, "c": set()}))


if __name__ == "__main__":
    unittest.main()
