"""The nbrepro Jupyter server extension: configuration and wiring.

Layers (as in jupyter-scheduler): this app (traitlets config) -> thin HTTP
handlers -> `CheckService` (domain) -> `Runner` (executor, swappable as a `Type`
trait) -> `nbrepro.store.Store` (the database the command line uses too).
"""

from __future__ import annotations

from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from platformdirs import user_data_dir
from traitlets import Bool, Float, Integer, Type, Unicode, default

from nbrepro.isolation import backend_names
from nbrepro.store import Store, default_url

from .handlers import handlers
from .runner import Runner, SubprocessRunner
from .service import CheckService


class NbreproApp(ExtensionApp):
    name = "jupyter_nbrepro"
    load_other_extensions = True

    backend = Unicode("venv", config=True, help="Isolation backend: " + ", ".join(backend_names()))
    cell_timeout = Float(300, config=True, help="Seconds one cell may run (a check's default).")
    notebook_timeout = Float(1200, config=True,
                             help="Seconds one notebook may run (a check's default).")
    max_cell_timeout = Float(3600, config=True,
                             help="The longest cell time limit a request may ask for.")
    max_notebook_timeout = Float(4 * 3600, config=True,
                                 help="The longest notebook time limit a request may ask for.")
    db_url = Unicode(config=True, help="SQLAlchemy URL of the results database "
                                       "(default: the one the nbrepro command uses).")
    artifacts_dir = Unicode(config=True, help="Where stored/re-run notebooks of checks go.")
    max_concurrent = Integer(2, config=True, help="Checks that may run at once.")
    max_queued = Integer(20, config=True,
                         help="Checks that may wait for a free slot; more are refused (429).")
    allow_remote_urls = Bool(False, config=True,
                             help="Allow checking https:// and ssh git URLs from the UI (off: "
                                  "only paths inside the server's root directory).")
    sandbox = Bool(True, config=True,
                   help="venv backend: run the checked code in the bubblewrap sandbox. A check "
                        "refuses to run when no sandbox works here; turn this off only for "
                        "code you trust, which then runs as the server's user.")
    runner_class = Type(SubprocessRunner, klass=Runner, config=True,
                        help="The executor that runs checks.")

    @default("db_url")
    def _default_db_url(self) -> str:
        return default_url()

    @default("artifacts_dir")
    def _default_artifacts_dir(self) -> str:
        return str(Path(user_data_dir("nbrepro")) / "artifacts")

    def initialize_settings(self) -> None:
        assert self.serverapp is not None, "an extension runs inside a server"
        if self.backend not in backend_names():
            raise ValueError(f"NbreproApp.backend must be one of {', '.join(backend_names())}")
        assert self.serverapp is not None  # an extension is initialised by its server
        service = CheckService(
            store=Store(self.db_url), runner_factory=self.runner_class,
            root_dir=self.serverapp.root_dir, artifacts_dir=Path(self.artifacts_dir),
            backend=self.backend, backends=list(backend_names()), cell_timeout=self.cell_timeout,
            notebook_timeout=self.notebook_timeout, max_cell_timeout=self.max_cell_timeout,
            max_notebook_timeout=self.max_notebook_timeout,
            allow_remote_urls=self.allow_remote_urls, sandbox=self.sandbox,
            max_concurrent=self.max_concurrent,
            max_queued=self.max_queued, parent=self,
        )
        recovered = service.recover()
        if recovered:
            self.log.info("nbrepro: marked %d unfinished check(s) as interrupted", len(recovered))
        self.settings["nbrepro_service"] = service

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())

    async def stop_extension(self) -> None:
        service = self.settings.get("nbrepro_service")
        if service is not None:
            await service.runner.shutdown()
