"""Unseeded randomness read from a notebook's sources: the calls of each code cell that
draw from a generator nobody seeded (numpy, `random`, torch, scikit-learn without
`random_state`) or from the clock and the system's entropy (`uuid4`, `time.time`).

A hint for a cell whose output changed, never a verdict: the draw may not reach the
output, and a seed may be set where the source does not show it.

    calls = unseeded_calls(["import numpy as np", "np.random.rand(3)"])
    calls == {1: ["np.random.rand"]}
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

# Conventional names, for a notebook whose import cell is not among the sources read.
_CONVENTIONAL = {"np": "numpy", "numpy": "numpy", "random": "random", "torch": "torch",
                 "uuid": "uuid", "time": "time", "secrets": "secrets"}
_NUMPY_NOT_A_DRAW = {"seed", "default_rng", "RandomState", "Generator", "SeedSequence",
                     "get_state", "set_state", "PCG64", "PCG64DXSM", "MT19937", "Philox",
                     "SFC64", "BitGenerator"}
_NUMPY_GENERATORS = {"default_rng", "RandomState"}  # unseeded when called without a seed
_RANDOM_DRAWS = {"random", "randint", "randrange", "choice", "choices", "shuffle", "sample",
                 "uniform", "gauss", "normalvariate", "triangular", "betavariate",
                 "expovariate", "gammavariate", "getrandbits", "lognormvariate",
                 "vonmisesvariate", "paretovariate", "weibullvariate", "randbytes",
                 "binomialvariate"}
_TORCH_DRAWS = {"rand", "randn", "randint", "randperm", "rand_like", "randn_like",
                "randint_like", "normal", "bernoulli", "multinomial", "poisson"}
_TORCH_SEEDS = {"torch.manual_seed", "torch.random.manual_seed", "torch.seed"}
# Always different: nothing seeds them.
_ENTROPY = {"uuid.uuid1", "uuid.uuid4", "time.time", "time.time_ns", "os.urandom",
            "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today"}
# scikit-learn callables whose result depends on `random_state` (numpy's global
# generator when it is not given).
_SKLEARN_RANDOM = {
    "train_test_split", "KFold", "StratifiedKFold", "ShuffleSplit", "StratifiedShuffleSplit",
    "GroupShuffleSplit", "KMeans", "MiniBatchKMeans", "GaussianMixture", "PCA", "TruncatedSVD",
    "NMF", "FastICA", "TSNE", "Isomap", "SpectralClustering", "RandomForestClassifier",
    "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor",
    "GradientBoostingClassifier", "GradientBoostingRegressor",
    "HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "DecisionTreeClassifier",
    "DecisionTreeRegressor", "MLPClassifier", "MLPRegressor", "SGDClassifier", "SGDRegressor",
    "LogisticRegression", "SVC", "LinearSVC", "BaggingClassifier", "BaggingRegressor",
    "AdaBoostClassifier", "AdaBoostRegressor", "IsolationForest", "RandomizedSearchCV",
    "make_classification", "make_regression", "make_blobs", "make_moons", "make_circles",
    "shuffle", "resample", "cross_val_score", "permutation_importance",
}
_MAGIC = re.compile(r"^\s*[%!?]")
_LONGEST = 200_000  # characters of a cell read (a crafted cell must not cost more)


def unseeded_calls(sources: Sequence[str]) -> dict[int, list[str]]:
    """For each code cell (by position in `sources`, in run order), the unseeded random
    calls it makes, as written (`np.random.rand`). Seeds and imports of earlier cells
    count; a cell that does not parse is left out."""
    reader = _Reader()
    found: dict[int, list[str]] = {}
    for position, source in enumerate(sources):
        calls = reader.cell(source)
        if calls:
            found[position] = calls
    return found


class _Reader:
    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> qualified name
        self.seeded: set[str] = set()  # "numpy", "random", "torch"

    def cell(self, source: str) -> list[str]:
        # IPython's magics and shell escapes are not Python: blank them, keep the lines.
        if len(source) > _LONGEST:
            return []
        text = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return []
        found: list[str] = []
        for node in _in_order(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        self.aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Call):
                written = _dotted(node.func)
                if written is None:
                    continue
                call = self._unseeded(written, node)
                if call is not None and call not in found:
                    found.append(call)
        return found

    def _qualified(self, written: str) -> str:
        head, _, rest = written.partition(".")
        base = self.aliases.get(head) or _CONVENTIONAL.get(head) or head
        return f"{base}.{rest}" if rest else base

    def _unseeded(self, written: str, call: ast.Call) -> str | None:
        name = self._qualified(written)
        module, _, last = name.rpartition(".")
        given = bool(call.args or call.keywords)
        if name in ("numpy.random.seed", "random.seed") or name in _TORCH_SEEDS:
            if given or name == "torch.seed":
                self.seeded.add(name.split(".")[0])
            return None
        if name in _ENTROPY:
            return written
        if module == "numpy.random":
            if last in _NUMPY_GENERATORS:
                return None if given else written
            if last in _NUMPY_NOT_A_DRAW:
                return None
            return None if "numpy" in self.seeded else written
        if module == "random" and last in _RANDOM_DRAWS:
            return None if "random" in self.seeded else written
        if name == "random.Random":
            return None if given else written
        if module == "torch" and last in _TORCH_DRAWS:
            return None if "torch" in self.seeded else written
        if name.startswith("sklearn.") and last in _SKLEARN_RANDOM:
            if any(k.arg == "random_state" for k in call.keywords) or "numpy" in self.seeded:
                return None
            return f"{written} without random_state"
        return None


def _in_order(tree: ast.AST) -> list[ast.AST]:
    """Every node, in the order the source shows them (a seed before a draw counts)."""
    nodes = [n for n in ast.walk(tree) if hasattr(n, "lineno")]
    return sorted(nodes, key=lambda n: (n.lineno, n.col_offset))  # type: ignore[attr-defined]


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
