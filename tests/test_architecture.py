"""The shape of the code that import-linter cannot say: inside a package, the only import cycle allowed is a Celery
task module with the services it runs and that enqueue it (a service queues the task by importing it inside the
function; the task imports the service). Any other cycle means two modules that should be one, or a layer upside
down. The contracts between packages are import-linter's (pyproject.toml)."""

import grimp

PACKAGES = ("core", "accounts", "transactions", "detection", "review", "alerts", "streaming", "anomaly_site")
# The service modules a task module may form a cycle with: services, and a job's chunk services.
SERVICE_MODULES = ("services", "chunks")


def _cycles(graph) -> list[set[str]]:
    """Strongly connected groups of two or more modules (Tarjan), over direct imports, lazy ones included."""
    edges = {m: set(graph.find_modules_directly_imported_by(m)) & graph.modules for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in edges[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(group)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def _allowed(group: set[str]) -> bool:
    names = {module.rsplit(".", 1)[-1] for module in group}
    packages = {module.rsplit(".", 1)[0] for module in group}
    return len(packages) == 1 and "tasks" in names and names <= {"tasks", *SERVICE_MODULES}


def test_the_only_import_cycles_are_a_task_with_its_services():
    graph = grimp.build_graph(*PACKAGES)

    wrong = [sorted(group) for group in _cycles(graph) if not _allowed(group)]

    assert wrong == []


def test_the_check_finds_a_cycle_between_two_ordinary_modules():
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.tasks", "pkg.services"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.tasks", imported="pkg.services")
    graph.add_import(importer="pkg.services", imported="pkg.tasks")

    assert [_allowed(group) for group in sorted(_cycles(graph), key=sorted)] == [False, True]
