"""The accuracy corpus: small notebooks, each run for real in two environments.

Every item is a notebook (its cells, each with a ground-truth label) and two
environments: the one the *stored* outputs were produced in and the one the
notebook is *re-run* in (twice, for `--twice`). An environment is what differs
between a published run and a re-run in the real world:

- `lib`: the source of `envlib.py`, a stand-in for a third-party library whose
  new version changed a constant, a default, a repr, or started to warn;
- `files`: data files next to the notebook (a data row that changed);
- `setup`: code run in a hidden first cell, for environment defaults that are
  not in the notebook (matplotlib's rcParams, numpy's print options, pandas
  options, ipykernel's stream flushing) - the cell is removed after the run;
- `extra_runs`: hidden cells run first, as when an author executed cells more
  than once (execution counts shift);
- `env`: the kernel's environment variables (hash seed, home directory).

Labels, per code cell:
- `same`: deterministic and unaffected; must come out identical;
- `noise:<kind>`: only noise changed; must not be flagged;
- `volatile:<kind>`: differs between any two runs (unseeded random numbers);
  nbrepro should call it `volatile`; flagging it is a false alarm;
- `change:<kind>`: a real change of result; must be flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Cell:
    source: str
    label: str = "same"
    tags: tuple[str, ...] = ()


@dataclass
class Env:
    lib: str = ""
    files: dict[str, str] = field(default_factory=dict)
    setup: str = ""
    extra_runs: int = 0
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Item:
    name: str
    description: str
    cells: list[Cell]
    stored: Env = field(default_factory=Env)
    rerun: Env = field(default_factory=Env)
    repo_files: dict[str, str] = field(default_factory=dict)  # pyproject.toml, sanitize files


# The environment every run shares: small figures keep the committed corpus small.
COMMON_SETUP = """\
import matplotlib
matplotlib.rcParams.update({"figure.figsize": (4, 3), "figure.dpi": 72})
"""

# The inline backend's old default figure (its own rc: 6x4 inches at 72 dpi, 432x288 px)
# and today's (matplotlib's: 6.4x4.8 inches at 100 dpi, 640x480 px).
FIGSIZE_OLD = (
    "import matplotlib\nmatplotlib.rcParams.update({'figure.figsize': (6, 4), 'figure.dpi': 72})"
)
FIGSIZE_NEW = (
    "import matplotlib\n"
    "matplotlib.rcParams.update({'figure.figsize': (6.4, 4.8), 'figure.dpi': 100})"
)

PLOT_DATA = "import numpy as np\nrng = np.random.default_rng(7)\ny = np.cumsum(rng.normal(size=40))"

CSV_V1 = """date,city,value,score
2020-01-01,Oslo,12.5,0.123
2020-01-02,Lima,7.25,0.456
2020-01-03,Pune,9.0,0.789
2020-01-04,Kyiv,11.75,0.321
2020-01-05,Baku,8.5,0.654
"""


def _csv(**changes: str) -> str:
    text = CSV_V1
    for old, new in changes.items():
        text = text.replace(old.replace("_", ","), new.replace("_", ","))
    return text


ITEMS: list[Item] = [
    # ------------------------------------------------------------------ noise
    Item(
        "exec_counts",
        "the author ran cells several times: execution counts in outputs differ",
        [Cell("x = 21"), Cell("x * 2", "noise:execution-count"), Cell("print('done')")],
        stored=Env(extra_runs=3),
    ),
    Item(
        "memory_addresses",
        "reprs with memory addresses",
        [
            Cell("class Model:\n    pass\nModel()", "noise:memory-address"),
            Cell("f = lambda v: v\nf", "noise:memory-address"),
            Cell("iter([1, 2, 3])", "noise:memory-address"),
            Cell("print(object())", "noise:memory-address"),
            Cell("hex(3735928559)"),
        ],
    ),
    Item(
        "seeded_random",
        "random numbers with a seed reproduce exactly",
        [
            Cell("import numpy as np, random"),
            Cell("np.random.seed(0)\nnp.random.rand(3)"),
            Cell("rng = np.random.default_rng(42)\nrng.normal(size=3)"),
            Cell("random.seed(1)\n[random.randint(0, 100) for _ in range(5)]"),
        ],
    ),
    Item(
        "unseeded_random",
        "random numbers without a seed differ on every run",
        [
            Cell("import numpy as np, random"),
            Cell("np.random.rand(3)", "volatile:random"),
            Cell(
                "print(f'sample mean: {np.random.normal(size=50).mean():.4f}')", "volatile:random"
            ),
            Cell("random.random()", "volatile:random"),
            Cell("bool(np.random.rand(100).sum() > 0)"),
        ],
    ),
    Item(
        "clock",
        "the current date and time in outputs",
        [
            Cell("import datetime, time\nimport pandas as pd"),
            Cell("datetime.datetime.now()", "noise:timestamp"),
            Cell("print(time.ctime())", "noise:timestamp"),
            Cell("pd.Timestamp.now()", "noise:timestamp"),
            Cell(
                "print(f'report generated at {datetime.datetime.now():%Y-%m-%d %H:%M:%S}')",
                "noise:timestamp",
            ),
            Cell("time.time()", "noise:timestamp"),
            Cell("datetime.datetime.now(datetime.timezone.utc).isoformat()", "noise:timestamp"),
        ],
    ),
    Item(
        "durations",
        "timings printed by %time, %timeit and hand-made timers",
        [
            Cell("import time"),
            Cell("%time total = sum(range(200_000))", "noise:timestamp"),
            Cell("%timeit -n 20 -r 3 sum(range(1000))", "noise:timestamp"),
            Cell(
                "t0 = time.perf_counter()\ns = sum(i * i for i in range(100_000))\n"
                "print(f'took {time.perf_counter() - t0:.4f} s')",
                "noise:timestamp",
            ),
            Cell("s", "same"),
        ],
    ),
    Item(
        "temp_paths",
        "temporary directories and home directories in outputs",
        [
            Cell("import os, tempfile, pathlib"),
            Cell("tempfile.mkdtemp()", "noise:temp-path"),
            Cell(
                "f = tempfile.NamedTemporaryFile(suffix='.csv', delete=False)\nprint(f.name)",
                "noise:temp-path",
            ),
            Cell("pathlib.Path.home() / 'data' / 'results.csv'", "noise:temp-path"),
            Cell("open(os.path.join(tempfile.mkdtemp(), 'missing.csv'))", "noise:temp-path"),
        ],
        stored=Env(env={"HOME": "/home/alice"}),
        rerun=Env(env={"HOME": "/home/bob"}),
    ),
    Item(
        "float_last_digits",
        "a library computes the same mean a different way: last digits move",
        [
            Cell("import envlib"),
            Cell("envlib.mean([0.1] * 10)", "noise:float"),
            Cell("print(envlib.mean([1.1, 2.2, 3.3, 4.4]))", "noise:float"),
            Cell("[envlib.mean([0.1] * n) for n in (3, 7)]", "noise:float"),
            Cell("round(envlib.mean([0.1] * 10), 6)"),
        ],
        stored=Env(lib="def mean(xs):\n    return sum(xs) / len(xs)\n"),
        rerun=Env(lib="import math\ndef mean(xs):\n    return math.fsum(xs) / len(xs)\n"),
    ),
    Item(
        "dataframe_float_noise",
        "a DataFrame shown at full precision whose last digits moved",
        [
            Cell("import pandas as pd, envlib\npd.set_option('display.precision', 17)"),
            Cell("df = envlib.table()\ndf", "noise:float"),
            Cell("print(df)", "noise:float"),
            Cell("df.shape"),
        ],
        stored=Env(
            lib="import pandas as pd\ndef table():\n"
            "    a = [0.1, 0.7, 1.3]\n"
            "    return pd.DataFrame({'a': a, 'b': [x * 3 / 7 for x in a]})\n"
        ),
        rerun=Env(
            lib="import pandas as pd\ndef table():\n"
            "    a = [0.1, 0.7, 1.3]\n"
            "    return pd.DataFrame({'a': a, 'b': [x * (3 / 7) for x in a]})\n"
        ),
    ),
    Item(
        "dataframe_markup",
        "pandas renders the same table with different HTML markup",
        [
            Cell("import pandas as pd\ndf = pd.read_csv('data.csv')"),
            Cell("df", "noise:dataframe-markup"),
            Cell("df.describe()", "noise:dataframe-markup"),
        ],
        stored=Env(
            files={"data.csv": CSV_V1},
            setup="import pandas as pd\npd.set_option('display.html.border', 0)",
        ),
        rerun=Env(files={"data.csv": CSV_V1}),
    ),
    Item(
        "styler_ids",
        "pandas Styler tables get random element ids",
        [
            Cell("import pandas as pd\ndf = pd.read_csv('data.csv')"),
            Cell("df.style.highlight_max(subset=['value'])", "noise:object-id"),
            Cell("df[['value', 'score']].style.format('{:.1f}')", "noise:object-id"),
        ],
        stored=Env(files={"data.csv": CSV_V1}),
        rerun=Env(files={"data.csv": CSV_V1}),
    ),
    Item(
        "uuids",
        "uuid4 values are random; uuid5 values are derived from a name",
        [
            Cell("import uuid"),
            Cell("uuid.uuid4()", "noise:object-id"),
            Cell("print('run', uuid.uuid4())", "noise:object-id"),
            Cell("uuid.uuid5(uuid.NAMESPACE_DNS, 'example.org')"),
        ],
    ),
    Item(
        "numpy2_scalars",
        "numpy 2 writes scalars as np.float64(1.5)",
        [
            Cell("import numpy as np\narr = np.array([1.5, 2.5, 4.0])"),
            Cell("arr.sum()", "noise:scalar-repr"),
            Cell("arr.max(), arr.argmax()", "noise:scalar-repr"),
            Cell("np.int64(10) * 3", "noise:scalar-repr"),
            Cell("arr > 2", "same"),
            Cell("{'mean': arr.mean(), 'ok': arr.min() > 0}", "noise:scalar-repr"),
        ],
        stored=Env(setup="import numpy as np\nnp.set_printoptions(legacy='1.25')"),
    ),
    Item(
        "pandas3_strings",
        "pandas 3 infers a str dtype where pandas 2 said object",
        [
            Cell("import pandas as pd\ns = pd.Series(['x', 'y', 'z'], name='letters')"),
            Cell("s", "noise:scalar-repr"),
            Cell("s.str.upper()", "noise:scalar-repr"),
            Cell("len(s)"),
        ],
        stored=Env(
            setup="import pandas as pd, warnings\nwarnings.simplefilter('ignore')\n"
            "pd.options.future.infer_string = False\nwarnings.resetwarnings()"
        ),
    ),
    Item(
        "set_order",
        "set and dict order depend on the hash seed",
        [
            Cell("words = ['apple', 'banana', 'cherry', 'date', 'elderberry', 'fig']"),
            Cell("set(words)", "noise:collection-order"),
            Cell("{w: len(w) for w in set(words)}", "noise:collection-order"),
            Cell("print(set(words) - {'fig'})", "noise:collection-order"),
            Cell("sorted(set(words))"),
        ],
        stored=Env(env={"PYTHONHASHSEED": "1"}),
        rerun=Env(env={"PYTHONHASHSEED": "2"}),
    ),
    Item(
        "dict_order",
        "an old Python ordered dict keys differently",
        [
            Cell("import envlib"),
            Cell("envlib.config()", "noise:collection-order"),
            Cell("print(envlib.config())", "noise:collection-order"),
            Cell("envlib.config()['lr']"),
        ],
        stored=Env(
            lib="def config():\n"
            "    return {'batch': 32, 'epochs': 10, 'lr': 0.01, 'name': 'run-a'}\n"
        ),
        rerun=Env(
            lib="def config():\n"
            "    return {'name': 'run-a', 'lr': 0.01, 'batch': 32, 'epochs': 10}\n"
        ),
    ),
    Item(
        "new_warnings",
        "a new library version emits deprecation warnings on stderr",
        [
            Cell("import envlib"),
            Cell("envlib.load()", "noise:warnings"),
            Cell("print(envlib.load() * 2)", "noise:warnings"),
            Cell("envlib.scale(3)", "noise:warnings"),
        ],
        stored=Env(lib="def load():\n    return 21\ndef scale(x):\n    return x * 1.5\n"),
        rerun=Env(
            lib="import warnings\n"
            "def load():\n"
            "    warnings.warn('load() will return a float', FutureWarning, stacklevel=2)\n"
            "    return 21\n"
            "def scale(x):\n"
            "    warnings.warn('scale is deprecated, use rescale', DeprecationWarning,"
            " stacklevel=2)\n"
            "    return x * 1.5\n"
        ),
    ),
    Item(
        "progress_bars",
        "tqdm progress bars redraw with different timings",
        [
            Cell("from tqdm import tqdm\nimport time"),
            Cell(
                "for i in tqdm(range(30), mininterval=0):\n    time.sleep(0.005)",
                "noise:progress-bar",
            ),
            Cell(
                "total = 0\nfor i in tqdm(range(200), desc='summing'):\n    total += i\ntotal",
                "noise:progress-bar",
            ),
            Cell(
                "for i in range(5):\n    print(f'\\rstep {i + 1}/5', end='')\n"
                "    time.sleep(0.01)\nprint()",
                "noise:progress-bar",
            ),
        ],
    ),
    Item(
        "stream_chunks",
        "printed text arrives in differently sized chunks",
        [
            Cell("import sys, time"),
            Cell(
                "for i in range(6):\n    print('line', i)\n    time.sleep(0.03)",
                "noise:stream-chunking",
            ),
            Cell(
                "for i in range(3):\n    print('out', i)\n    print('err', i, file=sys.stderr)\n"
                "    time.sleep(0.03)",
                "noise:stream-chunking",
            ),
        ],
        stored=Env(
            setup="import sys\nsys.stdout.flush_interval = 0.01\nsys.stderr.flush_interval = 0.01"
        ),
        rerun=Env(
            setup="import sys\nsys.stdout.flush_interval = 1.0\nsys.stderr.flush_interval = 1.0"
        ),
    ),
    Item(
        "plot_png_metadata",
        "the same plot saved by another matplotlib version: PNG metadata differs",
        [
            Cell("import matplotlib.pyplot as plt\n" + PLOT_DATA),
            Cell("plt.plot(y)\nplt.title('random walk')\nplt.show()", "noise:image"),
            Cell(
                "fig, ax = plt.subplots()\nax.bar(['a', 'b', 'c'], [3, 5, 2])\nfig", "noise:image"
            ),
        ],
        stored=Env(
            setup="%config InlineBackend.print_figure_kwargs = {'bbox_inches': 'tight', "
            "'metadata': {'Software': 'matplotlib version3.5.1, https://matplotlib.org/'}}"
        ),
    ),
    Item(
        "plot_dpi",
        "the inline backend's default dpi changed: same plot, more pixels",
        [
            Cell("import matplotlib.pyplot as plt\n" + PLOT_DATA),
            Cell(
                "plt.plot(y, marker='o')\nplt.xlabel('step')\nplt.ylabel('position')\nplt.show()",
                "noise:image",
            ),
            Cell("plt.scatter(y[:-1], y[1:])\nplt.title('lag plot')", "noise:image"),
        ],
        rerun=Env(setup="import matplotlib\nmatplotlib.rcParams['figure.dpi'] = 100"),
    ),
    Item(
        "plot_font_hinting",
        "FreeType hinting defaults changed: glyphs and layout move by a pixel",
        [
            Cell("import matplotlib.pyplot as plt\n" + PLOT_DATA),
            Cell(
                "plt.plot(y)\nplt.title('Measurements over time')\nplt.xlabel('t [s]')\n"
                "plt.ylabel('x [m]')\nplt.show()",
                "noise:image",
            ),
            Cell("plt.hist(y, bins=8)\nplt.title('distribution')\nplt.show()", "noise:image"),
        ],
        stored=Env(
            setup="import matplotlib\nmatplotlib.rcParams['text.hinting'] = 'force_autohint'"
        ),
    ),
    Item(
        "plot_antialiasing",
        "line anti-aliasing differs between backends",
        [
            Cell("import matplotlib.pyplot as plt\n" + PLOT_DATA),
            Cell("plt.plot(y, linewidth=2)\nplt.grid(True)\nplt.show()", "noise:image"),
        ],
        stored=Env(
            setup="import matplotlib\nmatplotlib.rcParams['lines.antialiased'] = False\n"
            "matplotlib.rcParams['text.antialiased'] = False"
        ),
    ),
    Item(
        "plot_figsize_default",
        "the inline backend's default figure size changed from 432x288 to 640x480",
        [
            Cell("import matplotlib.pyplot as plt\n" + PLOT_DATA),
            Cell("plt.plot(y)\nplt.show()", "noise:image-resized"),
        ],
        stored=Env(setup=FIGSIZE_OLD),
        rerun=Env(setup=FIGSIZE_NEW),
    ),
    Item(
        "plot_figsize_default_kinds",
        "the default figure size changed (432x288 -> 640x480): labelled line, scatter, "
        "histogram, markers, bars, a legend",
        [
            Cell("import matplotlib.pyplot as plt\n" + PLOT_DATA),
            Cell(
                "plt.plot(y)\nplt.title('random walk')\nplt.xlabel('step')\n"
                "plt.ylabel('position')\nplt.show()",
                "noise:image-resized",
            ),
            Cell("plt.scatter(y[:-1], y[1:], s=12)\nplt.show()", "noise:image-resized"),
            Cell("plt.hist(y, bins=10)\nplt.show()", "noise:image-resized"),
            Cell(
                "fig, ax = plt.subplots()\nax.plot(y[::4], marker='o')\nplt.close(fig)\nfig",
                "noise:image-resized",
            ),
            Cell(
                "plt.bar(['a', 'b', 'c', 'd', 'e'], [3, 5, 2, 6, 4])\nplt.ylabel('count')\n"
                "plt.show()",
                "noise:image-resized",
            ),
            Cell(
                "plt.plot(y, label='walk')\nplt.plot(y / 2, label='half')\nplt.legend()\n"
                "plt.show()",
                "noise:image-resized",
            ),
        ],
        stored=Env(setup=FIGSIZE_OLD),
        rerun=Env(setup=FIGSIZE_NEW),
    ),
    Item(
        "plot_svg",
        "SVG plots carry random clip-path ids and a creation date",
        [
            Cell(
                "%config InlineBackend.figure_formats = ['svg']\nimport matplotlib.pyplot as plt\n"
                + PLOT_DATA
            ),
            Cell("plt.plot(y)\nplt.xlim(0, 40)\nplt.show()", "noise:image"),
        ],
        stored=Env(setup="import matplotlib\nmatplotlib.rcParams['svg.hashsalt'] = None"),
    ),
    Item(
        "html_whitespace",
        "a library's HTML repr changed its indentation",
        [
            Cell("import envlib"),
            Cell("envlib.Result(42)", "noise:html-whitespace"),
        ],
        stored=Env(
            lib="class Result:\n    def __init__(self, v):\n        self.v = v\n"
            "    def __repr__(self):\n        return f'Result({self.v})'\n"
            "    def _repr_html_(self):\n"
            "        return f'<div>\\n  <b>Result</b>\\n  <i>{self.v}</i>\\n</div>'\n"
        ),
        rerun=Env(
            lib="class Result:\n    def __init__(self, v):\n        self.v = v\n"
            "    def __repr__(self):\n        return f'Result({self.v})'\n"
            "    def _repr_html_(self):\n"
            "        return f'<div><b>Result</b> <i>{self.v}</i></div>'\n"
        ),
    ),
    Item(
        "html_repr_added",
        "estimators gained an HTML repr in a new library version",
        [
            Cell("import envlib"),
            Cell("envlib.Estimator(alpha=0.5)", "noise:mime-bundle"),
        ],
        stored=Env(
            lib="class Estimator:\n    def __init__(self, alpha):\n        self.alpha = alpha\n"
            "    def __repr__(self):\n        return f'Estimator(alpha={self.alpha})'\n"
        ),
        rerun=Env(
            lib="class Estimator:\n    def __init__(self, alpha):\n        self.alpha = alpha\n"
            "    def __repr__(self):\n        return f'Estimator(alpha={self.alpha})'\n"
            "    def _repr_html_(self):\n"
            "        return f'<pre>Estimator(alpha={self.alpha})</pre>'\n"
        ),
    ),
    Item(
        "stored_errors",
        "tutorial cells that raise on purpose; tracebacks carry counts and paths",
        [
            Cell("1 / 0", "noise:traceback"),
            Cell("{}['missing']", "noise:traceback"),
            Cell("int('x')", "noise:traceback"),
        ],
        stored=Env(extra_runs=2),
    ),
    Item(
        "nbval_markers",
        "cells the authors marked for nbval",
        [
            Cell("# NBVAL_IGNORE_OUTPUT\nimport numpy as np\nnp.random.rand(2)", "noise:marker"),
            Cell("raise ValueError('expected')", "noise:marker", tags=("raises-exception",)),
            Cell(
                "# NBVAL_RAISES_EXCEPTION\nimport time\nraise RuntimeError(f'at {time.time()}')",
                "noise:marker",
            ),
            Cell(
                "# NBVAL_SKIP\nimport datetime\ndatetime.datetime.now().microsecond", "noise:marker"
            ),
            Cell("2 + 2"),
        ],
    ),
    Item(
        "repo_sanitiser",
        "the repository ignores run ids with a [tool.nbrepro] pattern and an nbval file",
        [
            Cell("import uuid, random"),
            Cell("print(f'Run id: {uuid.uuid4().hex[:8]}')", "noise:sanitiser"),
            Cell("print(f'worker-{random.randint(1000, 9999)} ready')", "noise:sanitiser"),
            Cell("print('status: ok')"),
        ],
        repo_files={
            "pyproject.toml": "[tool.nbrepro]\nignore = ['Run id: \\w+']\n",
            "pytest.ini": "[pytest]\naddopts = --nbval --nbval-sanitize-with sanitize.cfg\n",
            "sanitize.cfg": "[workers]\nregex: worker-\\d+\nreplace: worker-N\n",
        },
    ),
    Item(
        "array_float_noise",
        "a solver's result differs in the last bits; shown at full precision",
        [
            Cell("import numpy as np, envlib"),
            Cell("x = envlib.solve()\nx.tolist()", "noise:float"),
            Cell("x.round(8)"),
            Cell("print(repr(float(x.sum())))", "noise:float"),
        ],
        stored=Env(
            lib="import numpy as np\ndef solve():\n"
            "    a = np.array([[3., 1., 0.2], [1., 2., 0.3], [0.2, 0.3, 4.]])\n"
            "    return np.linalg.solve(a, np.array([1., 2., 3.]))\n"
        ),
        rerun=Env(
            lib="import numpy as np\ndef solve():\n"
            "    a = np.array([[3., 1., 0.2], [1., 2., 0.3], [0.2, 0.3, 4.]])\n"
            "    return np.linalg.inv(a) @ np.array([1., 2., 3.])\n"
        ),
    ),
    Item(
        "logging_stderr",
        "log records with timestamps on stderr",
        [
            Cell(
                "import logging\nlogging.basicConfig("
                "format='%(asctime)s %(levelname)s %(message)s', force=True)\n"
                "log = logging.getLogger('demo')"
            ),
            Cell("log.warning('model trained')", "noise:timestamp"),
            Cell("log.warning('accuracy %.2f', 0.93)", "noise:timestamp"),
        ],
    ),
    Item(
        "mixed_noise",
        "one cell with several kinds of noise at once",
        [
            Cell("import numpy as np, datetime, envlib"),
            Cell("print(object(), datetime.datetime.now())\nenvlib.value()", "noise:mixed"),
        ],
        stored=Env(
            lib="def value():\n    return 0.1 + 0.2\n",
            setup="import numpy as np\nnp.set_printoptions(legacy='1.25')",
            extra_runs=1,
        ),
        rerun=Env(
            lib="import warnings, numpy as np\ndef value():\n"
            "    warnings.warn('value() moves to envlib.core', FutureWarning, stacklevel=2)\n"
            "    return np.float64(0.30000000000000004)\n"
        ),
    ),
    Item(
        "keras_style_progress",
        "a training loop printing a Keras-style progress line with timings",
        [
            Cell("import time"),
            Cell(
                "for epoch in range(2):\n    for step in range(1, 4):\n"
                "        t = time.perf_counter()\n        time.sleep(0.01)\n"
                "        ms = (time.perf_counter() - t) * 1000\n"
                "        print(f'\\r{step}/3 [' + '=' * step + '.' * (3 - step)"
                " + f'] - ETA: {3 - step}s' + f' - {ms:.0f}ms/step', end='')\n"
                "    print(f' - loss: {0.5 / (epoch + 1):.4f}')",
                "noise:progress-bar",
            ),
        ],
    ),
    Item(
        "deterministic_mix",
        "nothing changes: text, tables, plots with fixed data",
        [
            Cell("import pandas as pd, matplotlib.pyplot as plt\ndf = pd.read_csv('data.csv')"),
            Cell("df.groupby('city')['value'].sum().sort_index()"),
            Cell("df.plot(x='date', y='value')\nplt.show()"),
            Cell("print(df.to_string())"),
        ],
        stored=Env(files={"data.csv": CSV_V1}),
        rerun=Env(files={"data.csv": CSV_V1}),
    ),
    # ---------------------------------------------------------------- changes
    Item(
        "changed_constant",
        "a library constant changed value",
        [
            Cell("import envlib"),
            Cell("envlib.GRAVITY * 2", "change:constant"),
            Cell("print(f'threshold = {envlib.THRESHOLD}')", "change:constant"),
            Cell("envlib.NAME"),
        ],
        stored=Env(lib="GRAVITY = 9.81\nTHRESHOLD = 0.51\nNAME = 'physics'\n"),
        rerun=Env(lib="GRAVITY = 9.80665\nTHRESHOLD = 0.61\nNAME = 'physics'\n"),
    ),
    Item(
        "changed_data_row",
        "one value in the data file changed",
        [
            Cell("import pandas as pd\ndf = pd.read_csv('data.csv')"),
            Cell("df", "change:data-row"),
            Cell("df['value'].mean()", "change:data-row"),
            Cell("len(df)"),
            Cell("df[df.value > 10].city.tolist()"),
        ],
        stored=Env(files={"data.csv": CSV_V1}),
        rerun=Env(files={"data.csv": _csv(**{"Lima_7.25": "Lima_7.5"})}),
    ),
    Item(
        "added_data_row",
        "the data file gained a row",
        [
            Cell("import pandas as pd\ndf = pd.read_csv('data.csv')"),
            Cell("df.shape", "change:data-row"),
            Cell("df.tail(3)", "change:data-row"),
        ],
        stored=Env(files={"data.csv": CSV_V1}),
        rerun=Env(files={"data.csv": CSV_V1 + "2020-01-06,Riga,10.0,0.5\n"}),
    ),
    Item(
        "changed_date",
        "a date in the data moved by a day",
        [
            Cell("import pandas as pd\ndf = pd.read_csv('data.csv', parse_dates=['date'])"),
            Cell("df[['date', 'city']].head(2)", "change:date"),
            Cell("print(df.date.min())", "same"),
            Cell("print(df.date.iloc[1])", "change:date"),
        ],
        stored=Env(files={"data.csv": CSV_V1}),
        rerun=Env(files={"data.csv": _csv(**{"2020-01-02_Lima": "2020-01-03_Lima"})}),
    ),
    Item(
        "changed_table_float",
        "a float in a table moved beyond tolerance",
        [
            Cell("import pandas as pd\ndf = pd.read_csv('data.csv')"),
            Cell("df[['city', 'score']]", "change:float"),
            Cell("df.score.sum()", "change:float"),
        ],
        stored=Env(files={"data.csv": CSV_V1}),
        rerun=Env(files={"data.csv": _csv(**{"Pune_9.0_0.789": "Pune_9.0_0.791"})}),
    ),
    Item(
        "added_column",
        "a library function returns an extra column",
        [
            Cell("import envlib"),
            Cell("envlib.summary()", "change:table-shape"),
        ],
        stored=Env(
            lib="import pandas as pd\ndef summary():\n"
            "    return pd.DataFrame({'n': [3, 4], 'mean': [1.5, 2.0]})\n"
        ),
        rerun=Env(
            lib="import pandas as pd\ndef summary():\n"
            "    return pd.DataFrame({'n': [3, 4], 'mean': [1.5, 2.0], 'std': [0.5, 0.7]})\n"
        ),
    ),
    Item(
        "changed_plot_line",
        "a line plot of data in which one point changed",
        [
            Cell("import matplotlib.pyplot as plt, pandas as pd\ndf = pd.read_csv('data.csv')"),
            Cell(
                "plt.plot(df['value'], marker='o')\nplt.title('values')\nplt.show()", "change:plot"
            ),
        ],
        stored=Env(files={"data.csv": CSV_V1}),
        rerun=Env(files={"data.csv": _csv(**{"Pune_9.0": "Pune_10.0"})}),
    ),
    Item(
        "changed_plot_scatter",
        "a scatter plot in which one point moved",
        [
            Cell("import matplotlib.pyplot as plt, envlib"),
            Cell("x, y = envlib.points()\nplt.scatter(x, y)\nplt.show()", "change:plot"),
        ],
        stored=Env(
            lib="import numpy as np\ndef points():\n    rng = np.random.default_rng(3)\n"
            "    x = rng.normal(size=60)\n    y = rng.normal(size=60)\n    return x, y\n"
        ),
        rerun=Env(
            lib="import numpy as np\ndef points():\n    rng = np.random.default_rng(3)\n"
            "    x = rng.normal(size=60)\n    y = rng.normal(size=60)\n"
            "    y[10] += 0.6\n    return x, y\n"
        ),
    ),
    Item(
        "changed_plot_bar",
        "a bar chart in which one bar grew by 10 %",
        [
            Cell("import matplotlib.pyplot as plt, envlib"),
            Cell("plt.bar(range(5), envlib.heights())\nplt.show()", "change:plot"),
        ],
        stored=Env(lib="def heights():\n    return [3, 5, 2, 6, 4]\n"),
        rerun=Env(lib="def heights():\n    return [3, 5, 2, 6.6, 4]\n"),
    ),
    Item(
        "changed_plot_with_dpi_noise",
        "new data *and* a new default dpi: the change must still show",
        [
            Cell("import matplotlib.pyplot as plt, envlib"),
            Cell("plt.plot(envlib.series())\nplt.ylabel('signal')\nplt.show()", "change:plot"),
        ],
        stored=Env(
            lib="import numpy as np\ndef series():\n    return np.sin(np.linspace(0, 6, 50))\n"
        ),
        rerun=Env(
            lib="import numpy as np\ndef series():\n"
            "    return np.sin(np.linspace(0, 6, 50) * 1.15)\n",
            setup="import matplotlib\nmatplotlib.rcParams['figure.dpi'] = 100",
        ),
    ),
    Item(
        "changed_plot_svg",
        "an SVG plot of different data",
        [
            Cell(
                "%config InlineBackend.figure_formats = ['svg']\nimport matplotlib.pyplot as plt\n"
                "import envlib"
            ),
            Cell("plt.plot(envlib.series())\nplt.show()", "change:plot"),
        ],
        stored=Env(lib="def series():\n    return [1, 3, 2, 4, 3]\n"),
        rerun=Env(lib="def series():\n    return [1, 3, 2, 4.5, 3]\n"),
    ),
    Item(
        "changed_plot_resized",
        "new data *and* the new default figure size (432x288 -> 640x480): the change "
        "must still show",
        [
            Cell("import matplotlib.pyplot as plt, pandas as pd\ndf = pd.read_csv('data.csv')"),
            Cell(
                "plt.plot(df['value'], marker='o')\nplt.title('values')\nplt.show()",
                "change:plot",
            ),
            Cell("plt.plot(df['score'])\nplt.show()", "change:plot"),
            Cell(
                "plt.scatter(df['value'], df['score'])\nplt.xlabel('value')\nplt.show()",
                "change:plot",
            ),
            Cell(
                "plt.plot(df['value'], label='value')\n"
                "plt.plot(df['score'] * 10, label='score x 10')\nplt.legend()\nplt.show()",
                "change:plot",
            ),
        ],
        stored=Env(files={"data.csv": CSV_V1}, setup=FIGSIZE_OLD),
        rerun=Env(
            files={"data.csv": _csv(**{"Pune_9.0_0.789": "Pune_9.5_0.759"})},
            setup=FIGSIZE_NEW,
        ),
    ),
    Item(
        "changed_plot_units_resized",
        "the same curve in other units (a library now returns ms, not s) and the new "
        "default figure size: only the tick labels show it",
        [
            Cell("import matplotlib.pyplot as plt, envlib"),
            Cell("plt.plot(envlib.latencies())\nplt.show()", "change:plot"),
        ],
        stored=Env(
            lib="import numpy as np\ndef latencies():\n"
            "    return np.abs(np.sin(np.linspace(0, 5, 30))) * 0.8 + 0.1\n",
            setup=FIGSIZE_OLD,
        ),
        rerun=Env(
            lib="import numpy as np\ndef latencies():\n"
            "    return (np.abs(np.sin(np.linspace(0, 5, 30))) * 0.8 + 0.1) * 1000\n",
            setup=FIGSIZE_NEW,
        ),
    ),
    Item(
        "changed_plot_bar_resized",
        "a bar chart in which one bar (not the tallest) grew by 10 %, at the new default "
        "figure size",
        [
            Cell("import matplotlib.pyplot as plt, envlib"),
            Cell(
                "plt.bar(['a', 'b', 'c', 'd', 'e'], envlib.heights())\nplt.ylabel('count')\n"
                "plt.show()",
                "change:plot",
            ),
        ],
        stored=Env(lib="def heights():\n    return [3, 5, 2, 6, 4]\n", setup=FIGSIZE_OLD),
        rerun=Env(lib="def heights():\n    return [3, 5, 2.2, 6, 4]\n", setup=FIGSIZE_NEW),
    ),
    Item(
        "changed_histogram",
        "a histogram of a sample in which some values changed",
        [
            Cell("import matplotlib.pyplot as plt, envlib"),
            Cell("plt.hist(envlib.sample(), bins=12)\nplt.show()", "change:plot"),
        ],
        stored=Env(
            lib="import numpy as np\ndef sample():\n"
            "    return np.random.default_rng(5).normal(size=500)\n"
        ),
        rerun=Env(
            lib="import numpy as np\ndef sample():\n"
            "    s = np.random.default_rng(5).normal(size=500)\n"
            "    s[:60] = np.abs(s[:60]) + 1.0\n    return s\n"
        ),
    ),
    Item(
        "missing_print",
        "a library function no longer prints its report",
        [
            Cell("import envlib"),
            Cell("envlib.report()", "change:missing-output"),
        ],
        stored=Env(lib="def report():\n    print('3 files processed')\n"),
        rerun=Env(lib="def report():\n    pass\n"),
    ),
    Item(
        "missing_figure",
        "a plotting helper no longer draws when there is nothing new",
        [
            Cell("import matplotlib.pyplot as plt, envlib"),
            Cell("print('summary:')\nenvlib.plot_summary()", "change:missing-output"),
        ],
        stored=Env(
            lib="import matplotlib.pyplot as plt\ndef plot_summary():\n"
            "    plt.plot([1, 2, 3])\n    plt.show()\n"
        ),
        rerun=Env(lib="import matplotlib.pyplot as plt\ndef plot_summary():\n    return None\n"),
    ),
    Item(
        "extra_print",
        "a library function now prints a message",
        [
            Cell("import envlib"),
            Cell("data = envlib.load()", "change:extra-output"),
            Cell("envlib.fit(data)", "change:extra-output"),
        ],
        stored=Env(
            lib="def load():\n    return list(range(100))\ndef fit(data):\n    return None\n"
        ),
        rerun=Env(
            lib="def load():\n    print('Loaded 100 rows')\n    return list(range(100))\n"
            "def fit(data):\n    return {'coef': 0.5}\n"
        ),
    ),
    Item(
        "changed_exception",
        "the stored error changed",
        [
            Cell("import envlib"),
            Cell("envlib.parse('x')", "change:exception"),
            Cell("envlib.convert('y')", "change:exception"),
        ],
        stored=Env(
            lib="def parse(s):\n    raise ValueError(f'bad value {s!r}')\n"
            "def convert(s):\n    raise TypeError(f'invalid literal {s!r}')\n"
        ),
        rerun=Env(
            lib="def parse(s):\n    raise KeyError(s)\n"
            "def convert(s):\n    raise TypeError(f'could not convert {s!r}')\n"
        ),
    ),
    Item(
        "new_exception",
        "a cell that worked now raises",
        [
            Cell("import envlib"),
            Cell("envlib.api.fit([1, 2, 3])", "change:exception"),
            Cell("print('after')"),
        ],
        stored=Env(
            lib="class _Api:\n    def fit(self, xs):\n"
            "        return sum(xs) / len(xs)\napi = _Api()\n"
        ),
        rerun=Env(lib="class _Api:\n    pass\napi = _Api()\n"),
    ),
    Item(
        "changed_count_and_label",
        "a count and a label changed",
        [
            Cell("import envlib"),
            Cell("len(envlib.items())", "change:count"),
            Cell("envlib.MODEL_NAME", "change:label"),
        ],
        stored=Env(lib="def items():\n    return list(range(100))\nMODEL_NAME = 'resnet50'\n"),
        rerun=Env(lib="def items():\n    return list(range(99))\nMODEL_NAME = 'resnet18'\n"),
    ),
    Item(
        "changed_dict_value",
        "a dict value changed while the key order also changed",
        [
            Cell("import envlib"),
            Cell("envlib.params()", "change:dict-value"),
        ],
        stored=Env(lib="def params():\n    return {'a': 1, 'b': 2, 'c': 3}\n"),
        rerun=Env(lib="def params():\n    return {'c': 3, 'b': 4, 'a': 1}\n"),
    ),
    Item(
        "changed_set_member",
        "a set member changed while the hash seed changed too",
        [
            Cell("import envlib"),
            Cell("set(envlib.fruits())", "change:set-member"),
        ],
        stored=Env(
            lib="def fruits():\n    return ['apple', 'banana', 'cherry']\n",
            env={"PYTHONHASHSEED": "1"},
        ),
        rerun=Env(
            lib="def fruits():\n    return ['apple', 'banana', 'cranberry']\n",
            env={"PYTHONHASHSEED": "2"},
        ),
    ),
    Item(
        "changed_hex",
        "a checksum printed in hex changed",
        [
            Cell("import envlib, zlib"),
            Cell("print(f'checksum: {zlib.crc32(envlib.PAYLOAD) * 7919:#x}')", "change:hex"),
            Cell("hex(zlib.crc32(envlib.PAYLOAD))", "change:hex"),
        ],
        stored=Env(lib="PAYLOAD = b'model weights v1'\n"),
        rerun=Env(lib="PAYLOAD = b'model weights v2'\n"),
    ),
    Item(
        "changed_progress_count",
        "a progress bar over fewer items",
        [
            Cell("from tqdm import tqdm\nimport envlib"),
            Cell("for x in tqdm(envlib.items()):\n    pass", "change:progress-count"),
        ],
        stored=Env(lib="def items():\n    return list(range(100))\n"),
        rerun=Env(lib="def items():\n    return list(range(90))\n"),
    ),
    Item(
        "changed_array_value",
        "an array element moved beyond tolerance",
        [
            Cell("import numpy as np, envlib"),
            Cell("np.array(envlib.weights())", "change:float"),
        ],
        stored=Env(lib="def weights():\n    return [1.0, 0.5, 0.25]\n"),
        rerun=Env(lib="def weights():\n    return [1.0001, 0.5, 0.25]\n"),
    ),
    Item(
        "changed_output_file",
        "the file a notebook writes got a different name (in a temp dir)",
        [
            Cell("import os, tempfile, envlib"),
            Cell("print(os.path.join(tempfile.mkdtemp(), envlib.OUTPUT_NAME))", "change:path"),
        ],
        stored=Env(lib="OUTPUT_NAME = 'results_v1.csv'\n"),
        rerun=Env(lib="OUTPUT_NAME = 'results_v2.csv'\n"),
    ),
    Item(
        "warning_and_change",
        "a new warning and a changed value in the same cell",
        [
            Cell("import envlib"),
            Cell("envlib.score()", "change:constant"),
        ],
        stored=Env(lib="def score():\n    return 0.85\n"),
        rerun=Env(
            lib="import warnings\ndef score():\n"
            "    warnings.warn('score() is deprecated', FutureWarning, stacklevel=2)\n"
            "    return 0.83\n"
        ),
    ),
    Item(
        "scalar_repr_and_change",
        "numpy 2 scalar reprs and a changed value",
        [
            Cell("import numpy as np, envlib"),
            Cell("np.float64(envlib.RATE) * 2", "change:constant"),
        ],
        stored=Env(
            lib="RATE = 1.5\n", setup="import numpy as np\nnp.set_printoptions(legacy='1.25')"
        ),
        rerun=Env(lib="RATE = 1.6\n"),
    ),
    Item(
        "html_repr_and_change",
        "an HTML repr added and the value changed",
        [
            Cell("import envlib"),
            Cell("envlib.Estimator()", "change:default"),
        ],
        stored=Env(
            lib="class Estimator:\n    def __init__(self, alpha=0.5):\n        self.alpha = alpha\n"
            "    def __repr__(self):\n        return f'Estimator(alpha={self.alpha})'\n"
        ),
        rerun=Env(
            lib="class Estimator:\n    def __init__(self, alpha=1.0):\n        self.alpha = alpha\n"
            "    def __repr__(self):\n        return f'Estimator(alpha={self.alpha})'\n"
            "    def _repr_html_(self):\n"
            "        return f'<pre>Estimator(alpha={self.alpha})</pre>'\n"
        ),
    ),
    Item(
        "timestamp_and_change",
        "a cell printing the time and a version tag that changed",
        [
            Cell("import datetime, envlib"),
            Cell("print(datetime.datetime.now(), envlib.TAG)", "change:label"),
        ],
        stored=Env(lib="TAG = 'v1.2'\n"),
        rerun=Env(lib="TAG = 'v1.3'\n"),
    ),
    Item(
        "changed_uuid5",
        "a name-derived uuid changed because the name changed",
        [
            Cell("import uuid, envlib"),
            Cell("uuid.uuid5(uuid.NAMESPACE_URL, envlib.DATASET)", "change:id"),
        ],
        stored=Env(lib="DATASET = 'https://example.org/data/v1'\n"),
        rerun=Env(lib="DATASET = 'https://example.org/data/v2'\n"),
    ),
    Item(
        "changed_datetime_unit",
        "pandas now keeps second resolution: datetime64[ns] -> datetime64[s]",
        [
            Cell("import envlib"),
            Cell("envlib.stamps().dtype", "change:dtype"),
        ],
        stored=Env(
            lib="import pandas as pd\ndef stamps():\n"
            "    dates = pd.to_datetime(['2020-01-01', '2020-02-01'])\n"
            "    return pd.Series(dates).astype('datetime64[ns]')\n"
        ),
        rerun=Env(
            lib="import pandas as pd\ndef stamps():\n"
            "    dates = pd.to_datetime(['2020-01-01', '2020-02-01'])\n"
            "    return pd.Series(dates).astype('datetime64[s]')\n"
        ),
    ),
]
